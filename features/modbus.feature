@modbus @needs-modbus
Feature: Modbus TCP service for one charger at a time
  The Smart Connect is a Modbus TCP server on port 502 of its own address. It serves one
  client at a time and answers whatever unit id is asked.

  Background:
    Given a Smart Connect P1 with USB-C power on a DHCP network
    And an SMR 5.0 meter drawing 2300 W on L1
    And 2 seconds have passed

  @MB-01
  Scenario: The Modbus server answers on the device's address
    Then a charger connecting to Modbus port 502 of the device reads a total active power of 2300 W

  @MB-01 @needs-status
  Scenario: The Modbus server answers on the address the device got from DHCP
    Then the device reports the DHCP address it was given
    And a charger connecting to Modbus port 502 of the device reads a total active power of 2300 W

  @MB-01 @NET-08 @needs-http @needs-status @smoke
  Scenario: After a static address is configured and the device restarts, Modbus still answers
    When the Ethernet settings are changed to the static address 192.168.10.101/24 and the device restarts
    Then the device reports the address 192.168.10.101
    And a charger connecting to Modbus port 502 of the device reads a total active power of 2300 W

  @MB-03 @smoke
  Scenario: Any unit id gets an answer
    Then a read of 2 registers at 0x8016 for unit id 0 gives a total active power of 2300 W
    And a read of 2 registers at 0x8016 for unit id 1 gives a total active power of 2300 W
    And a read of 2 registers at 0x8016 for unit id 247 gives a total active power of 2300 W
    And a read of 2 registers at 0x8016 for unit id 255 gives a total active power of 2300 W

  @MB-02
  Scenario: While one charger is connected, a second one gets no register values
    Given a charger connected over Modbus
    When a second charger connects over Modbus
    Then the second charger gets no register values
    And the first charger still reads a total active power of 2300 W

  @MB-02 @smoke
  Scenario: When the first charger leaves, the next one gets in
    Given a charger connected over Modbus
    When the first charger disconnects
    And a second charger connects over Modbus
    Then the second charger reads a total active power of 2300 W

  @MB-10 @sim-convention
  Scenario: A second charger is turned away at once, without a reply
    Given a charger connected over Modbus
    When a second charger connects over Modbus
    Then the second connection is closed without a reply
    And the first charger still reads a total active power of 2300 W

  @MB-10 @sim-convention
  Scenario: A charger that falls silent for 60 seconds loses the connection
    Given a charger connected over Modbus
    When 59 seconds pass
    Then the first charger still reads a total active power of 2300 W
    When 61 seconds pass
    Then the device has closed the first charger's connection
    When a second charger connects over Modbus
    Then the second charger reads a total active power of 2300 W
