@web
Feature: The web interface
  The Smart Connect serves a configuration page: its status, the network settings, the Wi-Fi
  settings and the Cloud (MQTT) settings. The page uses the same HTTP API as any other
  client, so what it saves is applied by a restart. It is also served over HTTPS, the "secure
  configuration environment".

  These scenarios read the page the way a browser fetches it (the HTML and the files it
  loads) without running its script; the page's behaviour in a real browser is checked by a
  separate browser test.

  Background:
    Given a Smart Connect P1

  @WEB-01 @NET-05 @NET-06 @needs-status @needs-web @smoke
  Scenario: The web interface answers at the device's address and names its other addresses
    The names themselves are not looked up: the test network has no mDNS responder and no
    router DNS. What is checked is that the page answers at the IP address, that it also
    answers a browser that asks for it by those names, and that the device reports the names.

    When a browser opens the web interface at the device's IP address
    Then it gets the Smart Connect configuration page
    And the page also answers a browser that asks for http://smart-connect.local
    And the page also answers a browser that asks for http://smart-connect-<serial>
    And the status shows the mDNS name "smart-connect.local"
    And the status shows the hostname smart-connect- followed by the serial on the label

  @WEB-02 @needs-http @needs-web @smoke
  Scenario: The page has a status panel for the system, the meter and the network
    Given an SMR 5.0 meter drawing 1000 W on L1
    When a browser opens the web interface at the device's IP address
    Then every file the page loads is served
    And the page has the panels "System", "Meter" and "Network"
    And the page has the labels "Active interface", "Link", "Network", "Internet" and "MQTT"
    And the page's script reads the status from /api/v1/status
    And that status names the active interface and has the indicators Link, Network, Internet and MQTT

  @WEB-03 @needs-web @smoke
  Scenario: The network settings form offers Ethernet or Wi-Fi, DHCP or a static address
    When a browser opens the web interface at the device's IP address
    Then the page has a form "Network settings"
    And the form offers a choice between "Ethernet" and "Wi-Fi"
    And the form offers a choice between "DHCP" and "Static IP"
    And the form has the fields "IP address", "Netmask", "Gateway" and "DNS"
    And the form has the button "Save network settings"
    And the page's script saves settings with PATCH /api/v1/config

  @WEB-03 @NET-08 @needs-http @needs-status
  Scenario: Saved network settings are applied by a restart
    The request is the one the page's "Save network settings" button sends for a static
    Ethernet address, and the restart is the one its "Restart device" button asks for.

    When the network settings are saved the way the page does, with Ethernet, static address 192.168.1.210, netmask 24, gateway 192.168.1.1 and DNS 192.168.1.1
    Then the answer is 200 with a JSON document
    And the status still shows the address handed out by the DHCP server
    When the device is restarted the way the page does
    Then the status shows the static address 192.168.1.210 with netmask 255.255.255.0

  @WEB-04 @needs-web @smoke
  Scenario: The Wi-Fi settings ask for the network name and a WPA2-PSK password, 2.4 GHz only
    When a browser opens the web interface at the device's IP address
    Then the page has a form "Network settings"
    And the form has the fields "SSID" and "Wi-Fi password"
    And the field "Wi-Fi password" hides what is typed
    And the form says "2.4 GHz" and "WPA2-PSK"
    And the form offers no other Wi-Fi security than WPA2-PSK

  @WEB-05 @needs-web
  Scenario: The Cloud settings form sets up MQTT
    When a browser opens the web interface at the device's IP address
    Then the page has a form "Cloud settings"
    And the form offers a choice between "Enable MQTT" and "Disable MQTT"
    And the form has the fields "Broker URL", "Username", "Password" and "Site"
    And the form says "mTLS" next to the field "Username"
    And the field "Password" hides what is typed, with a "Show" button next to it
    And the form has the button "Save MQTT settings"

  @WEB-05 @MQ-01 @needs-http @smoke
  Scenario: Saved Cloud settings are kept and a restart applies them
    The request is the one the page's "Save MQTT settings" button sends.

    When the MQTT settings are saved the way the page does, disabled, with broker mqtt://192.168.1.10:1883, username "meter", password "s3cret-pw" and site "garage-3"
    Then the answer is 200 with a JSON document
    And the setting MQTT.Broker is "mqtt://192.168.1.10:1883"
    And the setting MQTT.Username is "meter"
    And the setting MQTT.Password is "s3cret-pw"
    And the setting MQTT.Site is "garage-3"
    And the status still shows MQTT enabled
    When the device is restarted the way the page does
    Then the status shows MQTT disabled

  @WEB-06 @sim-convention @needs-http @needs-web
  Scenario: The web interface and the API are also served over HTTPS
    When a browser opens the web interface over HTTPS, trusting the CA of the device certificate
    Then it gets the Smart Connect configuration page
    And over HTTPS the status answers for user "user" with the label password
    And over HTTPS a request without credentials gets 401 with a Basic authentication challenge

  @WEB-06 @WEB-01 @needs-http @needs-web
  Scenario: The plain page at smart-connect.local links to the secure page
    When a browser opens http://smart-connect.local
    Then the page links to the secure configuration page
    And following the link gets the Smart Connect configuration page over HTTPS, with a certificate valid for smart-connect.local
