@power @needs-power @needs-modbus
Feature: Powering the Smart Connect
  An SMR 5 meter powers the P1 Smart Connect through its P1 port. A DSMR 4.2 meter cannot:
  then, and always for the TIC variant and for the P1 ext output, USB-C power is needed.

  @PWR-01 @needs-http @needs-status
  Scenario Outline: An SMR 5 meter powers the Smart Connect without USB-C
    Given a Smart Connect P1 without USB-C power
    And <meter> drawing 1000 W on L1
    When 8 seconds pass
    Then the device answers over Modbus and HTTP
    And the total active power reads 1000 W

    Examples:
      | meter                        |
      | an SMR 5.0 meter             |
      | a single-phase SMR 5.0 meter |

  @PWR-02 @needs-led @needs-http @needs-status
  Scenario: A DSMR 4.2 meter cannot power it: without USB-C nothing works
    Given a Smart Connect P1 without USB-C power
    And a DSMR 4.2 meter drawing 1000 W on L1
    When 30 seconds pass
    Then the LED is off
    And the device does not answer over Modbus or HTTP
    When USB-C power is plugged in
    And 20 seconds pass
    Then the device answers over Modbus and HTTP
    And the total active power reads 1000 W

  @PWR-03 @needs-p1-ext
  Scenario: The P1 ext output needs USB-C power
    Given a Smart Connect P1 without USB-C power
    And an SMR 5.0 meter drawing 800 W on L1
    When 10 seconds pass
    Then the total active power reads 800 W
    And the P1 ext output carries nothing
    When USB-C power is plugged in
    And 5 seconds pass
    And the meter sends a telegram with a bad CRC
    And 3 seconds pass
    Then the P1 ext output carries every byte the meter sent since USB-C power was plugged in

  @PWR-04 @needs-led @needs-http @needs-status
  Scenario: The TIC Smart Connect stays off without USB-C, even with a Linky connected
    Given a Smart Connect TIC without USB-C power
    And a Linky in standard mode drawing 1000 W on L1
    When 10 seconds pass
    Then the LED is off
    And the device does not answer over Modbus or HTTP
    When USB-C power is plugged in
    And 8 seconds pass
    Then the device answers over Modbus and HTTP
    And the total active power reads 1000 W

  @PWR-04 @needs-http @needs-status
  Scenario: The TIC Smart Connect stops when USB-C power is lost
    Given a Smart Connect TIC
    And a Linky in historic mode drawing 500 W on L1
    And 5 seconds have passed
    When USB-C power is unplugged
    And 5 seconds pass
    Then the device does not answer over Modbus or HTTP
