@config @needs-http
Feature: Settings over the HTTP API
  GET /api/v1/config returns the whole configuration; PATCH /api/v1/config changes only the
  settings it names, refuses bad values without changing anything, and what is saved stays
  saved through restarts and power cuts.

  Background:
    Given a Smart Connect P1

  @API-03 @smoke
  Scenario: The configuration has the manual's keys, with the factory settings
    Then the configuration contains
      | setting                       | value                              |
      | MeterType                     | PhoenixContact-EMPro               |
      | DefaultNetIf                  | Ethernet                           |
      | Ethernet.IpMode               | DHCP                               |
      | Ethernet.StaticIPv4.IpAddress | (any)                              |
      | Ethernet.StaticIPv4.Netmask   | (any)                              |
      | Ethernet.StaticIPv4.Gateway   | (any)                              |
      | Ethernet.StaticIPv4.DNS       | (any)                              |
      | WiFi.IpMode                   | DHCP                               |
      | MQTT.Broker                   | mqtts://broker.xemex-cloud.eu:8883 |
      | MQTT.Site                     | unknown-site                       |
      | MQTT.Username                 |                                    |
      | MQTT.Password                 | (any)                              |

  @API-11 @sim-convention
  Scenario: The keys the web interface needs are there too
    Then the configuration contains
      | setting                   | value |
      | MQTT.Enabled              | true  |
      | WiFi.SSID                 |       |
      | WiFi.Password             |       |
      | WiFi.StaticIPv4.IpAddress |       |
      | WiFi.StaticIPv4.Netmask   |       |
      | WiFi.StaticIPv4.Gateway   |       |
      | WiFi.StaticIPv4.DNS       |       |
    When the settings are changed with
      """
      { "WiFi": { "SSID": "Zolder", "Password": "geheim-wachtwoord" }, "MQTT": { "Enabled": false } }
      """
    Then the change is accepted
    And the configuration contains
      | setting       | value             |
      | WiFi.SSID     | Zolder            |
      | WiFi.Password | geheim-wachtwoord |
      | MQTT.Enabled  | false             |

  @API-04
  Scenario Outline: A change touches only the setting it names
    Given the configuration has been read
    When the setting <setting> is set to <value>
    Then the change is accepted
    And only <setting> has changed, to <value>

    @smoke
    Examples: the setting an installer changes first
      | setting                     | value                      |
      | MQTT.Site                   | "garage-3"                 |

    Examples: settings of every kind
      | setting                     | value                      |
      | MQTT.Username               | "meter-reader"             |
      | MQTT.Broker                 | "mqtt://192.168.1.10:1883" |
      | MeterType                   | "Eastron-SDM630"           |
      | Ethernet.StaticIPv4.Gateway | "192.168.1.1"              |
      | MQTT.Enabled                | false                      |

  @API-09 @sim-convention
  Scenario Outline: A bad value is refused, naming the setting, and nothing changes
    Given the configuration has been read
    When the setting <setting> is set to <value>
    Then the change is refused naming <setting>
    And the configuration is unchanged

    Examples:
      | setting                       | value                     |
      | Ethernet.StaticIPv4.IpAddress | "300.1.1.1"               |
      | Ethernet.StaticIPv4.Netmask   | "33"                      |
      | WiFi.StaticIPv4.Gateway       | "192.168.1"               |
      | MQTT.Broker                   | "broker.example.com:1883" |
      | MQTT.Colour                   | "blue"                    |
      | MQTT.Enabled                  | "yes"                     |

  @API-09 @API-11 @sim-convention
  Scenario Outline: A Wi-Fi password must be 8 to 63 characters
    Given the configuration has been read
    When the setting WiFi.Password is set to "<password>"
    Then the change is refused naming WiFi.Password
    And the configuration is unchanged

    Examples:
      | password                                                         |
      | abcde                                                            |
      | 1234567                                                          |
      | 0123456789012345678901234567890123456789012345678901234567890123 |

  @API-09 @sim-convention
  Scenario: One bad value refuses the whole change
    Given the configuration has been read
    When the settings are changed with
      """
      { "MQTT": { "Site": "garage-3", "Broker": "broker.example.com" } }
      """
    Then the change is refused naming MQTT.Broker
    And the configuration is unchanged

  @API-09 @sim-convention
  Scenario: Every bad value is named at once, in the order of the configuration
    Given the configuration has been read
    When the settings are changed with
      """
      { "MQTT": { "Site": "a/b", "Broker": "broker.example.com" }, "Ethernet": { "StaticIPv4": { "Netmask": "33", "IpAddress": "300.1.1.1" } } }
      """
    Then the change is refused naming each of Ethernet.StaticIPv4.IpAddress, Ethernet.StaticIPv4.Netmask, MQTT.Broker and MQTT.Site
    And the configuration is unchanged

  @API-09 @sim-convention
  Scenario: A static gateway must be in the subnet of the static address
    Given the configuration has been read
    When the settings are changed with
      """
      { "Ethernet": { "IpMode": "Static", "StaticIPv4": { "IpAddress": "192.168.1.10", "Netmask": "24", "Gateway": "10.0.0.1" } } }
      """
    Then the change is refused naming Ethernet.StaticIPv4.Gateway
    And the configuration is unchanged
    When the settings are changed with
      """
      { "Ethernet": { "IpMode": "Static", "StaticIPv4": { "IpAddress": "192.168.1.10", "Netmask": "24", "Gateway": "192.168.1.1" } } }
      """
    Then the change is accepted

  @API-10 @sim-convention
  Scenario: A saved setting survives a restart
    When the setting MQTT.Site is set to "garage-3"
    And the device is restarted
    Then the setting MQTT.Site is "garage-3"

  @API-10 @sim-convention @needs-power
  Scenario: A power cut in the middle of a save leaves the old or the new setting
    Given the setting MQTT.Site has been set to "garage-2"
    When the power fails while the setting MQTT.Site is being set to "garage-3"
    And the power comes back
    Then the setting MQTT.Site is either "garage-2" or "garage-3"

  @API-10 @sim-convention @needs-power
  Scenario: A saved setting survives a power cut
    When the setting MQTT.Site is set to "garage-3"
    And the setting Ethernet.StaticIPv4.DNS is set to "9.9.9.9"
    And the power is switched off for 5 seconds and on again
    Then the setting MQTT.Site is "garage-3"
    And the setting Ethernet.StaticIPv4.DNS is "9.9.9.9"
