@p1
Feature: Reading a Dutch or Belgian smart meter on the P1 port
  The P1/A1 Smart Connect reads DSMR 4.2, SMR 5.0 and e-MUCS telegrams and turns every valid
  telegram into live values; whatever the meter sends is repeated on the P1 ext port.

  Background:
    Given a Smart Connect P1

  @P1-01 @P1-04 @needs-modbus
  Scenario Outline: Every supported meter generation is read
    Given <meter> drawing 2300 W on L1
    When <interval> seconds pass
    Then the total active power reads 2300 W
    And the active power on L1 reads 2300 W

    @smoke
    Examples: Belgian e-MUCS
      | meter                       | interval |
      | a Belgian e-MUCS meter      | 1        |

    Examples: the Dutch generations
      | meter                       | interval |
      | an SMR 5.0 meter            | 1        |
      | a single-phase SMR 5.0 meter | 1       |
      | a DSMR 4.2 meter            | 10       |

  @P1-04 @MB-07 @needs-modbus @smoke
  Scenario: An SMR 5.0 meter updates the registers every second
    Given an SMR 5.0 meter drawing 1000 W on L1
    And 2 seconds have passed
    When the meter's load changes to 3000 W on L1
    Then the total active power reads 1000 W
    When 1 second passes
    Then the total active power reads 3000 W

  @P1-04 @MB-07 @needs-modbus
  Scenario: A DSMR 4.2 meter updates the registers every 10 seconds
    Given a DSMR 4.2 meter drawing 1000 W on L1
    And 10 seconds have passed
    When the meter's load changes to 3000 W on L1
    And 9 seconds pass
    Then the total active power reads 1000 W
    When 1 second passes
    Then the total active power reads 3000 W

  @P1-05 @P1-04 @needs-modbus @smoke
  Scenario: A DSMR 4.2 meter has no voltage
    Given a DSMR 4.2 meter drawing 1.5 kW on L1
    When 10 seconds pass
    Then the voltage on L1, L2 and L3 reads 0 V
    And the total active power reads 1500 W

  @P1-02 @needs-modbus
  Scenario Outline: Meters older than DSMR 4.2 are refused
    Given <meter>
    When 12 seconds pass
    Then every register from 0x8006 to 0x8023 reads 0

    @smoke
    Examples: a meter that only says it is older
      | meter                      |
      | a DSMR 4.0 meter           |

    Examples: an older telegram format
      | meter                      |
      | a DSMR 2.2 meter           |

  @P1-02 @needs-status
  Scenario Outline: The status names an older meter as incompatible
    Given <meter>
    When 30 seconds pass
    Then the device reports no meter data because the meter is incompatible

    Examples:
      | meter                      |
      | a DSMR 2.2 meter           |
      | a DSMR 4.0 meter           |

  @P1-03 @needs-p1-ext
  Scenario: The P1 ext port repeats the meter byte for byte
    Given an SMR 5.0 meter drawing 800 W on L1
    When 5 seconds pass
    And the meter sends a telegram with a bad CRC
    And the meter sends a truncated telegram
    And the meter sends 40 bytes of line noise
    And 3 seconds pass
    Then the P1 ext output carries every byte the meter sent, in order

  @P1-06 @sim-convention @needs-modbus
  Scenario Outline: A damaged telegram changes no register
    Given an SMR 5.0 meter drawing 800 W on L1
    And 2 seconds have passed
    When the meter's load changes to 5000 W on L1
    And the meter sends <damage>
    And 600 milliseconds pass
    Then the total active power reads 800 W
    When the next telegram arrives
    Then the total active power reads 5000 W

    Examples:
      | damage                        |
      | a telegram with a bad CRC     |
      | a truncated telegram          |

  @P1-06 @sim-convention @needs-status @needs-modbus
  Scenario Outline: A damaged telegram changes nothing but the error counter
    Given an SMR 5.0 meter drawing 800 W on L1
    And 2 seconds have passed
    When the meter's load changes to 5000 W on L1
    And the meter sends <damage>
    And 600 milliseconds pass
    Then the total active power reads 800 W
    And the device counts 1 rejected telegram
    And the device still receives meter data

    Examples:
      | damage                        |
      | a telegram with a bad CRC     |
      | a truncated telegram          |

  @P1-07 @sim-convention @needs-modbus
  Scenario: The last values stay in the registers while the meter is silent
    Given an SMR 5.0 meter drawing 1200 W on L1
    And 3 seconds have passed
    When the meter stops sending
    And 10 seconds pass
    Then the total active power reads 1200 W
    And the active power on L1 reads 1200 W

  @P1-07 @P1-06 @sim-convention @needs-modbus
  Scenario: Damaged telegrams leave the last values in the registers
    Given an SMR 5.0 meter drawing 1200 W on L1
    And 3 seconds have passed
    When the meter's load changes to 3000 W on L1
    And every telegram from now on has a bad CRC
    And 5 seconds pass
    Then the total active power reads 1200 W

  @P1-07 @sim-convention @needs-status @needs-modbus
  Scenario: An SMR 5.0 meter that falls silent means no meter data after 3 seconds
    Given an SMR 5.0 meter drawing 1200 W on L1
    And 5 seconds have passed
    When the meter stops sending
    And 2 seconds pass
    Then the device still receives meter data
    When 2 seconds pass
    Then the device reports no meter data
    And the total active power reads 1200 W

  @P1-07 @sim-convention @needs-status @needs-modbus
  Scenario: A DSMR 4.2 meter is allowed 30 seconds of silence
    Given a DSMR 4.2 meter drawing 700 W on L1
    And 10 seconds have passed
    When the meter stops sending
    And 25 seconds pass
    Then the device still receives meter data
    When 10 seconds pass
    Then the device reports no meter data
    And the total active power reads 700 W

  @P1-07 @P1-06 @sim-convention @needs-status @needs-modbus
  Scenario: Only damaged telegrams count as silence
    Given an SMR 5.0 meter drawing 1200 W on L1
    And 3 seconds have passed
    When every telegram from now on has a bad CRC
    And 5 seconds pass
    Then the device reports no meter data
    And the total active power reads 1200 W
