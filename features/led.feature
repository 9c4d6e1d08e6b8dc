@led @needs-led
Feature: What the LED tells the installer
  One multicolour LED shows the state: red while booting, a colour cycle while initialising,
  steady green when all is well, and colour pairs alternating at 1 Hz (each colour half a
  second) when meter data, the IP address or both are missing, or in access-point mode.

  @LED-01 @needs-power
  Scenario: The LED is off without power
    Given a Smart Connect P1 without USB-C power
    Then the LED is off

  @LED-01 @needs-power
  Scenario: The LED goes off when power is lost
    Given a Smart Connect P1
    When USB-C power is unplugged
    Then the LED is off

  @LED-02 @LED-09 @LED-03 @needs-power
  Scenario: At power-on the LED is red, then cycles through colours and ends in green
    Given a Smart Connect P1 without USB-C power
    # An SMR 5.0 meter powers the Smart Connect through its P1 port: connecting it is power-on.
    And an SMR 5.0 meter drawing 1000 W on L1
    Then the LED is steady red for 3 seconds
    And the LED then cycles through colours for 2 seconds, ending in green
    And the LED is steady green

  @LED-02 @LED-09 @LED-06 @needs-power
  Scenario: Without a meter the colour cycle still ends in green, then shows there is no meter data
    Given a Smart Connect P1 without USB-C power
    When USB-C power is plugged in
    Then the LED is steady red for 3 seconds
    And the LED then cycles through colours for 2 seconds, ending in green
    And the LED alternates red and green at 1 Hz

  @LED-03
  Scenario: Steady green with meter data and an address
    Given a Smart Connect P1 on a DHCP network
    And an SMR 5.0 meter drawing 1000 W on L1
    When 2 seconds pass
    Then the LED is steady green

  @LED-04 @needs-button
  Scenario: Blue blinking in access-point mode
    Given a Smart Connect P1
    And an SMR 5.0 meter drawing 1000 W on L1
    When the button is held for 6 seconds
    Then the LED blinks blue

  @LED-05 @needs-network
  Scenario: Green and orange without an IP address
    Given a Smart Connect P1
    And an SMR 5.0 meter drawing 1000 W on L1
    And 2 seconds have passed
    When the Ethernet cable is unplugged
    Then the LED alternates green and orange at 1 Hz
    When the Ethernet cable is plugged in
    And 1 second passes
    Then the LED is steady green

  @LED-06
  Scenario Outline: Red and green without meter data
    Given a Smart Connect P1
    And <meter>
    When 30 seconds pass
    Then the LED alternates red and green at 1 Hz

    Examples:
      | meter                                    |
      | an SMR 5.0 meter that is not yet sending |
      | a DSMR 2.2 meter                         |

  @LED-06
  Scenario: Red and green once the meter falls silent
    Given a Smart Connect P1
    And an SMR 5.0 meter drawing 1000 W on L1
    And 2 seconds have passed
    When the meter stops sending
    And 4 seconds pass
    Then the LED alternates red and green at 1 Hz

  @LED-07 @needs-button
  Scenario: Blue and red in access-point mode without meter data
    Given a Smart Connect P1
    When the button is held for 6 seconds
    Then the LED alternates blue and red at 1 Hz

  @LED-08 @needs-network
  Scenario: Red and orange with neither meter data nor an IP address
    Given a Smart Connect P1 without a network cable
    Then the LED alternates red and orange at 1 Hz
