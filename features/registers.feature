@modbus @needs-modbus
Feature: The register map a charger reads
  The Smart Connect emulates a Phoenix Contact EMPro: every value a Float32 in two registers,
  word-swapped, all values of one read from one telegram.

  Background:
    Given a Smart Connect P1

  @MB-05 @MB-06 @smoke
  Scenario: Voltage on L1 is a word-swapped float
    Given an SMR 5.0 meter reporting
      | phase | voltage | current | power  |
      | L1    | 230.0 V | 6 A     | 1380 W |
    When the next telegram arrives
    Then register 0x8006 holds the bytes "00 00 43 66"
    And reading 2 registers at 0x8006 as a CD-AB float gives 230.0

  @MB-05 @MB-06
  Scenario: Every value sits at its EMPro address
    Given an SMR 5.0 meter reporting
      | phase | voltage | current | power   |
      | L1    | 231.2 V | 6 A     | 1380 W  |
      | L2    | 229.9 V | 12 A    | -2760 W |
      | L3    | 230.4 V | 1 A     | 230 W   |
    When the next telegram arrives
    Then the registers read
      | address | quantity              | value  |
      | 0x8006  | voltage L1 (V)        | 231.2  |
      | 0x8008  | voltage L2 (V)        | 229.9  |
      | 0x800A  | voltage L3 (V)        | 230.4  |
      | 0x800E  | current L1 (A)        | 6      |
      | 0x8010  | current L2 (A)        | 12     |
      | 0x8012  | current L3 (A)        | 1      |
      | 0x8016  | total active power (W) | -1150 |
      | 0x801E  | active power L1 (W)   | 1380   |
      | 0x8020  | active power L2 (W)   | -2760  |
      | 0x8022  | active power L3 (W)   | 230    |

  @MB-13 @sim-convention
  Scenario: Current is a magnitude; direction shows only in power
    Given an SMR 5.0 meter reporting
      | phase | voltage | current | power   |
      | L1    | 230 V   | 12 A    | -2760 W |
    When the next telegram arrives
    Then the current on L1 reads 12 A
    And the active power on L1 reads -2760 W

  @MB-04 @smoke
  Scenario: Holding and input registers hold the same data
    Given an SMR 5.0 meter drawing 3450 W on L1
    When 2 seconds pass
    Then function codes 0x03 and 0x04 return the same 30 registers at 0x8006

  @MB-09 @sim-convention
  Scenario: Both function codes read the whole EMPro template blocks alike
    Given an SMR 5.0 meter drawing 3450 W on L1
    When 2 seconds pass
    Then function codes 0x03 and 0x04 return the same 64 registers at 0x8000
    And function codes 0x03 and 0x04 return the same 8 registers at 0x8100

  @MB-08 @smoke
  Scenario: One read never mixes two telegrams
    Given an SMR 5.0 meter reporting
      | phase | voltage | current | power  |
      | L1    | 230.0 V | 5 A     | 1150 W |
      | L2    | 231.0 V | 2 A     | 460 W  |
      | L3    | 229.0 V | 1 A     | 230 W  |
    And 2 seconds have passed
    When the meter's next telegram changes every value while a charger reads 30 registers at 0x8006 without pause
    Then every read showed wholly the previous telegram or wholly the new one
    And the reads ended on the new telegram

  @MB-09 @sim-convention
  Scenario Outline: Reads outside the map are refused with the right exception
    Given an SMR 5.0 meter drawing 1000 W on L1
    When 1 second passes
    Then a read of <quantity> registers at <address> with function code <fc> gets exception <exception>

    Examples:
      | fc   | address | quantity | exception |
      | 0x06 | 0x8006  | 1        | 0x01      |
      | 0x10 | 0x8006  | 2        | 0x01      |
      | 0x03 | 0x8040  | 1        | 0x02      |
      | 0x03 | 0x8030  | 17       | 0x02      |
      | 0x04 | 0x0000  | 2        | 0x02      |
      | 0x03 | 0x8108  | 1        | 0x02      |
      | 0x03 | 0x8006  | 0        | 0x03      |
      | 0x04 | 0x8000  | 126      | 0x03      |

  @MB-09 @sim-convention
  Scenario: OpenEMS-style block reads are answered
    Given an SMR 5.0 meter drawing 1000 W on L1
    When 1 second passes
    Then a read of 57 registers at 0x8006 with function code 0x03 is answered
    And a read of 8 registers at 0x8100 with function code 0x03 is answered
    And register 0x8030 holds the bytes "00 00 00 00"

  @MB-11 @sim-convention
  Scenario: Before the first telegram every register reads 0
    Given an SMR 5.0 meter that is not yet sending
    When 5 seconds pass
    Then every register from 0x8006 to 0x8023 reads 0

  @MB-09 @MB-11 @sim-convention
  Scenario: Before the first telegram the whole template blocks read 0
    Given an SMR 5.0 meter that is not yet sending
    When 5 seconds pass
    Then every register from 0x8000 to 0x803F reads 0
    And every register from 0x8100 to 0x8107 reads 0
