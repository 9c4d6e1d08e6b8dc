@network
Feature: Getting onto the network
  The Smart Connect asks for an IPv4 address by DHCP, falls back to a link-local address,
  takes a static address after a restart, uses Ethernet or Wi-Fi (never both), and offers an
  access point for setting it up.

  @NET-01 @needs-http @needs-status @smoke
  Scenario: By default the device asks for an address by DHCP
    Given a Smart Connect P1 on a DHCP network
    Then the setting Ethernet.IpMode is "DHCP"
    And the status shows the address handed out by the DHCP server
    And the status shows Ethernet as the active interface
    And the status shows the Internet indicator on

  @NET-02 @needs-network @needs-power @needs-modbus @needs-status
  Scenario: Without a DHCP server the device takes a link-local address after 3 attempts
    Given a Smart Connect P1 without USB-C power
    And the network has no DHCP server
    When USB-C power is plugged in
    And 14 seconds pass
    Then the device does not answer on the network yet
    When 2 seconds pass
    Then the status shows a link-local address in 169.254.x.x
    And the status shows the Internet indicator off

  @NET-02 @LED-08 @needs-network @needs-led @needs-modbus @needs-status
  Scenario: While DHCP is being tried the LED says there is no IP address
    Given a Smart Connect P1 on a network without a DHCP server
    Then the LED alternates red and orange at 1 Hz
    And the device does not answer on the network yet

  @NET-03 @needs-network @needs-http @needs-modbus @needs-status
  Scenario: Switching to Wi-Fi moves the device off Ethernet
    Given a Smart Connect P1 on a DHCP network
    And an SMR 5.0 meter drawing 1000 W on L1
    And a 2.4 GHz Wi-Fi network "Zolder" with password "geheim-wachtwoord" is in range
    And the status shows Ethernet as the active interface
    When the Wi-Fi settings are saved with SSID "Zolder" and password "geheim-wachtwoord"
    And the connection type is set to Wi-Fi
    And the device is restarted
    Then the status shows WiFi as the active interface with an address from DHCP
    And the address is not the one it had on Ethernet
    When the Ethernet cable is unplugged
    And 5 seconds pass
    Then the status shows WiFi as the active interface with an address from DHCP
    And the total active power reads 1000 W

  @NET-03 @needs-network @needs-http @needs-modbus @needs-status
  Scenario: Switching back to Ethernet leaves Wi-Fi unused
    Given a Smart Connect P1 on a DHCP network
    And an SMR 5.0 meter drawing 1000 W on L1
    And a 2.4 GHz Wi-Fi network "Zolder" with password "geheim-wachtwoord" is in range
    When the Wi-Fi settings are saved with SSID "Zolder" and password "geheim-wachtwoord"
    And the connection type is set to Wi-Fi
    And the device is restarted
    And the connection type is set to Ethernet
    And the device is restarted
    Then the status shows Ethernet as the active interface with an address from DHCP
    When the Wi-Fi network "Zolder" goes out of range
    And 5 seconds pass
    Then the status shows the address handed out by the DHCP server
    And the total active power reads 1000 W

  @WEB-04 @needs-network @needs-led @needs-http @needs-modbus @needs-status
  Scenario: A 5 GHz-only Wi-Fi network is not joined
    Given a Smart Connect P1 on a DHCP network
    And an SMR 5.0 meter drawing 1000 W on L1
    And only a 5 GHz Wi-Fi network "Zolder-5G" with password "geheim-wachtwoord" is in range
    When the Wi-Fi settings are saved with SSID "Zolder-5G" and password "geheim-wachtwoord"
    And the connection type is set to Wi-Fi
    And the device is restarted
    Then the device does not answer on the network
    And the LED alternates green and orange at 1 Hz

  @API-11 @sim-convention @needs-network @needs-http @needs-modbus @needs-status
  Scenario: A saved Wi-Fi network that is not in range is named until it comes into range
    Given a Smart Connect P1 on a DHCP network
    And a 2.4 GHz Wi-Fi network "Zolder" with password "geheim-wachtwoord" is in range
    When the Wi-Fi settings are saved with SSID "Thuis" and password "geheim-wachtwoord"
    And the connection type is set to Wi-Fi
    And the device is restarted
    Then the device does not answer on the network
    And the reported network problem mentions Wi-Fi network "Thuis" not found (the simulated LAN offers: "Zolder";
    And the simulator's answer names the problem and a factory reset as the way out
    When a 2.4 GHz Wi-Fi network "Thuis" with password "geheim-wachtwoord" comes into range
    And 5 seconds pass
    Then the status shows WiFi as the active interface with an address from DHCP
    And no network problem is reported

  @API-11 @sim-convention @needs-network @needs-http @needs-modbus @needs-status
  Scenario: A wrong Wi-Fi password is reported as the network problem
    Given a Smart Connect P1 on a DHCP network
    And a 2.4 GHz Wi-Fi network "Zolder" with password "geheim-wachtwoord" is in range
    When the Wi-Fi settings are saved with SSID "Zolder" and password "verkeerd-wachtwoord"
    And the connection type is set to Wi-Fi
    And the device is restarted
    Then the device does not answer on the network
    And the reported network problem mentions Wi-Fi network "Zolder": wrong password

  @API-11 @sim-convention @needs-network @needs-http @needs-status
  Scenario: A saved Wi-Fi network in range is joined without a network problem
    Given a Smart Connect P1 on a DHCP network
    And a 2.4 GHz Wi-Fi network "Zolder" with password "geheim-wachtwoord" is in range
    When the Wi-Fi settings are saved with SSID "Zolder" and password "geheim-wachtwoord"
    And the connection type is set to Wi-Fi
    And the device is restarted
    Then the status shows WiFi as the active interface with an address from DHCP
    And no network problem is reported

  @NET-04 @needs-http
  Scenario Outline: An IPv6 static address is refused
    Given a Smart Connect P1
    And the configuration has been read
    When the Ethernet static address is set to "<address>"
    Then the change is refused with a message that names IPv6
    And the configuration is unchanged

    @smoke
    Examples: a unique local address
      | address        |
      | fd00::20       |

    Examples: other IPv6 forms
      | address        |
      | 2001:db8::1    |
      | ::ffff:1.2.3.4 |

  @NET-05 @needs-status
  Scenario: The hostname carries the serial number
    Given a Smart Connect P1
    Then the status shows the hostname smart-connect- followed by the serial on the label

  @NET-06 @needs-status
  Scenario: The device announces itself as smart-connect.local
    Given a Smart Connect P1
    Then the status shows the mDNS name "smart-connect.local"

  @NET-07 @BTN-02 @needs-button @needs-network @needs-http @needs-status
  Scenario: The access point sets up Wi-Fi and is switched off once the device is on Wi-Fi
    Given a Smart Connect P1 without a network cable
    And a 2.4 GHz Wi-Fi network "Zolder" with password "geheim-wachtwoord" is in range
    When the button is held for 6 seconds
    Then the status shows an access point named "SC-" followed by the serial on the label
    When the Wi-Fi settings are saved with SSID "Zolder" and password "geheim-wachtwoord"
    And the connection type is set to Wi-Fi
    And the device is restarted
    Then the status shows WiFi as the active interface with an address from DHCP
    And the access point is off

  @NET-08 @needs-http @needs-status
  Scenario: A static address is taken after a restart
    Given a Smart Connect P1 on a DHCP network
    When the Ethernet settings are saved as static address "192.168.1.200", netmask "24", gateway "192.168.1.1" and DNS "192.168.1.1"
    Then the status still shows the address handed out by the DHCP server
    When the device is restarted
    Then the status shows the static address 192.168.1.200 with netmask 255.255.255.0
    And the configuration holds gateway "192.168.1.1" and DNS "192.168.1.1"
    And the status shows the Internet indicator on

  @NET-08 @needs-network @needs-http @needs-status
  Scenario: A static address needs no DHCP server
    Given a Smart Connect P1 on a DHCP network
    When the Ethernet settings are saved as static address "10.0.0.7", netmask "16", gateway "10.0.0.1" and DNS "10.0.0.1"
    And the DHCP server is switched off
    And the device is restarted
    Then the status shows the static address 10.0.0.7 with netmask 255.255.0.0
