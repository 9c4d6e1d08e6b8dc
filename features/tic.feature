@tic
Feature: Reading a French Linky meter on the TIC terminals
  The TIC Smart Connect reads both Linky modes and reports apparent power as active power,
  with per-phase power that is never negative.

  Background:
    Given a Smart Connect TIC

  @TIC-01 @needs-modbus
  Scenario Outline: Both TIC modes are read
    Given <meter> drawing 2300 W on L1
    When 5 seconds pass
    Then the total active power reads 2300 W
    And the current on L1 reads 10 A

    Examples:
      | meter                                |
      | a Linky in historic mode             |
      | a three-phase Linky in historic mode |
      | a Linky in standard mode             |
      | a three-phase Linky in standard mode |

  @TIC-04 @sim-convention @needs-modbus
  Scenario: Standard mode carries voltage, historic mode does not
    Given a three-phase Linky in standard mode reporting
      | phase | voltage | current | power  |
      | L1    | 231 V   | 5 A     | 1150 W |
      | L2    | 229 V   | 2 A     | 460 W  |
      | L3    | 236 V   | 0 A     | 0 W    |
    When 2 seconds pass
    Then the voltage on L1 reads 231 V
    And the voltage on L2 reads 229 V
    And the active power on L2 reads 460 W
    And the total active power reads 1610 W

  @TIC-04 @sim-convention @needs-modbus
  Scenario: A three-phase historic Linky has no per-phase power or voltage
    Given a three-phase Linky in historic mode drawing 2300 W on L1
    When 5 seconds pass
    Then the voltage on L1, L2 and L3 reads 0 V
    And the active power on L1, L2 and L3 reads 0 W
    And the total active power reads 2300 W

  @TIC-02 @TIC-04 @needs-modbus
  Scenario Outline: Exporting never shows negative phase power
    Given a three-phase producer Linky in standard mode injecting <injected> VA
    When the next frame arrives
    Then the total active power reads <total> W
    And the active power on L1, L2 and L3 reads 0 W

    @smoke
    Examples: a sunny afternoon
      | injected | total |
      | 2480     | -2480 |

    Examples: a small export
      | injected | total |
      | 150      | -150  |

  @TIC-04 @sim-convention @needs-modbus
  Scenario: A consumer-mode Linky that exports reports zero total
    Given a Linky in standard mode injecting 900 VA
    When 3 seconds pass
    Then the total active power reads 0 W

  @TIC-03 @MB-12 @needs-http @needs-modbus
  Scenario Outline: The register map follows the selected template
    Given the Smart Connect is configured with MeterType "<template>"
    And a Linky in standard mode drawing 2300 W on L1
    When 3 seconds pass
    Then reading 2 registers at <address> with function code 0x04 as a <order> float gives 2300

    @smoke
    Examples: a template chosen at installation
      | template             | address | order |
      | Eastron-SDM630       | 0x0034  | AB-CD |

    Examples: the default template
      | template             | address | order |
      | PhoenixContact-EMPro | 0x8016  | CD-AB |

  @MB-12 @sim-convention @needs-http
  Scenario: An unknown template is refused with the valid names
    When the Smart Connect is configured with MeterType "Acme-X1"
    Then the configuration is refused naming "PhoenixContact-EMPro" and "Eastron-SDM630"

  @P1-06 @TIC-01 @needs-modbus @needs-status @smoke
  Scenario: A frame with one wrong group checksum is not used
    Given a Linky in standard mode drawing 1000 W on L1
    And 3 seconds have passed
    When the meter's load changes to 4000 W on L1
    And the meter sends a frame with a wrong group checksum
    Then the total active power reads 1000 W
    And the device counts 1 rejected telegram

  @P1-07 @sim-convention @needs-status
  Scenario: A silent Linky means no meter data after 10 seconds
    Given a Linky in standard mode drawing 1000 W on L1
    And 3 seconds have passed
    When the meter stops sending
    And 9 seconds pass
    Then the device still receives meter data
    When 2 seconds pass
    Then the device reports no meter data
