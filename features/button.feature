@button @needs-button @needs-status
Feature: The button
  How long the button is held decides what happens when it is let go: a short press restarts
  the Smart Connect, 5 seconds starts the access point (only in factory settings), more than
  10 seconds restores the factory settings. Anything in between does nothing.

  Background:
    Given a Smart Connect P1

  @BTN-01 @LED-02 @needs-led @needs-modbus
  Scenario: A short press restarts the device and it reconnects
    Given a DSMR 4.2 meter drawing 1500 W on L1
    And 2 seconds have passed
    And the status shows an uptime of at least 8 seconds
    When the button is pressed for 1 second
    Then the LED is steady red
    When 4 seconds pass
    Then every register from 0x8000 to 0x803F reads 0
    And the status shows an uptime of less than 7 seconds
    And the status shows the address handed out by the DHCP server
    When the next telegram arrives
    Then the total active power reads 1500 W

  @BTN-02 @NET-07 @LED-04 @needs-led
  Scenario: Holding 5 seconds in factory settings starts the access point
    Given an SMR 5.0 meter drawing 1000 W on L1
    And 2 seconds have passed
    When the button is held for 6 seconds
    Then the status shows an access point named "SC-" followed by the serial on the label
    And the LED blinks blue
    And the status shows an uptime of at least 14 seconds

  @BTN-02 @BTN-04 @needs-led @needs-http
  Scenario: Holding 6 seconds after the settings were changed does nothing
    Given an SMR 5.0 meter drawing 1000 W on L1
    And the setting MQTT.Site has been set to "garage-3"
    When the button is held for 6 seconds
    Then the access point is off
    And the LED is steady green
    And the status shows an uptime of at least 12 seconds
    And the setting MQTT.Site is "garage-3"

  @BTN-03 @needs-led @needs-http @needs-modbus
  Scenario: Holding more than 10 seconds restores the factory settings
    Given an SMR 5.0 meter drawing 1000 W on L1
    And the setting MQTT.Site has been set to "garage-3"
    And the setting Ethernet.StaticIPv4.Gateway has been set to "192.168.1.1"
    When the button is held for 11 seconds
    Then the LED is steady red
    When 5 seconds pass
    Then the setting MQTT.Site is "unknown-site"
    And the setting Ethernet.StaticIPv4.Gateway is ""
    And the status shows an uptime of less than 8 seconds
    And the total active power reads 1000 W

  @BTN-03 @BTN-02 @needs-http
  Scenario: After a factory reset the access point can be started again
    Given an SMR 5.0 meter drawing 1000 W on L1
    And the setting MQTT.Site has been set to "garage-3"
    When the button is held for 12 seconds
    And 6 seconds pass
    And the button is held for 6 seconds
    Then the status shows an access point named "SC-" followed by the serial on the label

  @BTN-04 @needs-led @sim-convention @needs-modbus
  Scenario Outline: A press of <hold> seconds in factory settings does nothing
    Given an SMR 5.0 meter drawing 1000 W on L1
    When the button is held for <hold> seconds
    Then the LED is steady green
    And the access point is off
    And the status shows an uptime of at least <uptime> seconds
    And the total active power reads 1000 W

    Examples:
      | hold | uptime |
      | 3    | 9      |
      | 4    | 10     |
