@mqtt @needs-mqtt @needs-status
Feature: Measurements and commands over MQTT
  The Smart Connect publishes one JSON message per meter telegram to an MQTT broker, by
  default the Xemex cloud broker over mutual TLS, and takes remote commands there. The topics
  are devices/<site>/smart-connect/{serial}/data/measurements for the values,
  …/cmd/<command> for commands and …/data/events for their results. An installer's MQTT
  client subscribed on the same broker sees what the device publishes.

  @MQ-02 @MQ-03 @MQ-05 @needs-broker @needs-http
  Scenario: Out of the box the device connects to the Xemex broker with its own certificate
    Given a Smart Connect P1
    Then the setting MQTT.Broker is "mqtts://broker.xemex-cloud.eu:8883"
    And the status shows MQTT connected
    And the broker saw the device connect over mutual TLS, with the serial number from the label as certificate name and as client id

  @MQ-04 @MQ-12 @MQ-14 @MQ-09 @smoke
  Scenario: A measurement is published under the default site
    Given a Smart Connect P1
    And an SMR 5.0 meter drawing 1000 W on L1
    And an installer's MQTT client is subscribed to devices/#
    When the meter sends its next telegram
    Then one measurement is published for it
    And the measurement is published on "devices/unknown-site/smart-connect/{serial}/data/measurements"
    And the measurement names the serial number from the label and the site "unknown-site"
    And the measurement is a JSON object valid against the published JSON schema
    And the measurement carries instantaneous values only, no cumulative counters
    And in the measurement active_power_l1_w is 1000

  @MQ-04 @MQ-12 @MQ-14 @needs-http
  Scenario: A configured site is used in the topic after a restart
    Given a Smart Connect P1
    And an SMR 5.0 meter drawing 1000 W on L1
    And an installer's MQTT client is subscribed to devices/#
    When the setting MQTT.Site is set to "garage-3"
    And the device is restarted
    And the meter sends its next telegram
    Then one measurement is published for it
    And the measurement is published on "devices/garage-3/smart-connect/{serial}/data/measurements"
    And the measurement names the serial number from the label and the site "garage-3"

  @MQ-01 @needs-http @needs-modbus
  Scenario: With MQTT disabled and the device restarted, nothing is published
    Given a Smart Connect P1
    And an SMR 5.0 meter drawing 1000 W on L1
    And an installer's MQTT client is subscribed to devices/#
    When the setting MQTT.Enabled is set to false
    And the device is restarted
    And 10 seconds pass
    Then no measurement is published
    And the status shows MQTT disabled
    And the total active power reads 1000 W

  @MQ-08 @smoke
  Scenario: One message per valid telegram, none for a damaged one
    Given a Smart Connect P1
    And an SMR 5.0 meter drawing 1000 W on L1
    And an installer's MQTT client is subscribed to devices/#
    When the meter sends its next telegram
    Then one measurement is published for it
    When the meter sends a telegram with a bad CRC
    Then no measurement is published
    And the device counts 1 rejected telegram
    When the meter sends its next telegram
    Then one measurement is published for it

  @MQ-08
  Scenario Outline: Over a minute, as many messages as telegrams the device accepted
    Given a Smart Connect <variant>
    And <meter> drawing 1000 W on L1
    And an installer's MQTT client is subscribed to devices/#
    When 60 seconds pass
    Then the broker received one measurement for every telegram the device accepted

    Examples:
      | variant | meter                    |
      | P1      | an SMR 5.0 meter         |
      | P1      | a DSMR 4.2 meter         |
      | TIC     | a Linky in historic mode |
      | TIC     | a Linky in standard mode |

  @MQ-09 @MQ-10 @MQ-14
  Scenario Outline: What the telegram does not give is null
    Given a Smart Connect P1
    And <meter> drawing 1000 W on L1
    And an installer's MQTT client is subscribed to devices/#
    When the meter sends its next telegram
    Then one measurement is published for it
    And the measurement is a JSON object valid against the published JSON schema
    And the measurement carries instantaneous values only, no cumulative counters
    And in the measurement <absent> are null
    And in the measurement active_power_l1_w is 1000

    @smoke
    Examples: a meter without voltage
      | meter                       | absent                                                                                         |
      | a DSMR 4.2 meter            | voltage_l1_v, voltage_l2_v and voltage_l3_v                                                    |

    Examples: a single-phase meter
      | meter                       | absent                                                                                         |
      | a single-phase SMR 5.0 meter | voltage_l2_v, voltage_l3_v, current_l2_a, current_l3_a, active_power_l2_w and active_power_l3_w |

  @MQ-11 @MQ-15 @needs-clock
  Scenario Outline: The timestamp is the meter's own time, in UTC
    The device clock is set two hours ahead, so a timestamp taken from it would show.

    Given a Smart Connect <variant>
    And <meter> drawing 1000 W on L1
    And an installer's MQTT client is subscribed to devices/#
    And the device clock is set 2 hours ahead
    When the meter sends its next telegram
    Then one measurement is published for it
    And the measurement's timestamp is the meter's time when the telegram was sent, in UTC epoch seconds
    And the measurement is a JSON object valid against the published JSON schema

    Examples:
      | variant | meter                     |
      | P1      | an SMR 5.0 meter          |
      | P1      | a DSMR 4.2 meter          |
      | P1      | a Belgian e-MUCS meter    |
      | TIC     | a Linky in standard mode  |

  @MQ-11 @MQ-15 @needs-clock
  Scenario: A Linky in historic mode sends no time: the device clock is used
    Given a Smart Connect TIC
    And a Linky in historic mode drawing 1000 W on L1
    And an installer's MQTT client is subscribed to devices/#
    And the device clock is set 2 hours ahead
    When the meter sends its next telegram
    Then one measurement is published for it
    And the measurement's timestamp is the device clock's time when the telegram was sent, in UTC epoch seconds
    And the measurement is a JSON object valid against the published JSON schema

  @MQ-06 @needs-clock @needs-broker @needs-http @needs-modbus
  Scenario: With a wrong device clock MQTT cannot connect, and Modbus still answers
    Given a Smart Connect P1
    And an SMR 5.0 meter drawing 1000 W on L1
    And the status shows MQTT connected
    When the device clock is set to 1999-01-01
    And the device is restarted
    And 10 seconds pass
    Then the status shows MQTT not connected, with an error naming the certificate and the device clock
    And the broker has seen no new connection from the device
    And the total active power reads 1000 W
    When the device clock is set right
    And 60 seconds pass
    Then the status shows MQTT connected

  @MQ-13 @MQ-14 @FW-01 @needs-update-server @needs-http
  Scenario: A firmware update requested over MQTT is confirmed on the events topic
    Given a Smart Connect P1
    And an SMR 5.0 meter drawing 1000 W on L1
    And the update server offers firmware 1.5.0
    And the device is publishing its measurements
    When the command firmware-update is published with {"Version":"1.5.0"}
    Then the device answers on "devices/unknown-site/smart-connect/{serial}/data/events" that firmware-update was accepted for version 1.5.0
    And polling the firmware API every second shows downloading, verifying, installing, rebooting and then idle on version 1.5.0
    And the status reports firmware version 1.5.0

  @MQ-13 @MQ-14 @needs-http @smoke
  Scenario: A reset requested over MQTT is confirmed, then the device restarts
    Given a Smart Connect P1
    And an SMR 5.0 meter drawing 1000 W on L1
    And 5 seconds have passed
    And the device is publishing its measurements
    When the command reset is published with an empty payload
    Then the device answers on "devices/unknown-site/smart-connect/{serial}/data/events" that reset was accepted
    And the device restarts
    When 10 seconds pass
    Then the status shows an uptime of less than 15 seconds
    And the status shows MQTT connected

  @MQ-14 @sim-convention @needs-http
  Scenario Outline: A command the device cannot carry out is refused with a reason
    Given a Smart Connect P1
    And an SMR 5.0 meter drawing 1000 W on L1
    And the device is publishing its measurements
    When the command <command> is published with <payload>
    Then the device answers on "devices/unknown-site/smart-connect/{serial}/data/events" that <command> was refused

    Examples:
      | command         | payload               |
      | firmware-update | {"version":"1.5.0"}   |
      | firmware-update | {}                    |
      | self-destruct   | {"now":true}          |

  @MQ-16 @needs-broker @sim-convention @needs-modbus
  Scenario: While the broker is unreachable Modbus keeps answering; the device reconnects with a bounded backlog
    Given a Smart Connect P1
    And an SMR 5.0 meter drawing 1000 W on L1
    And the device is publishing its measurements
    When the broker becomes unreachable
    And the meter's load changes to 2500 W on L1
    And 150 seconds pass
    Then the total active power reads 2500 W
    And the status counts the measurements it dropped
    When the broker is reachable again
    And 60 seconds pass
    Then the status shows MQTT connected
    And the backlog sent after reconnecting holds fewer measurements than the telegrams accepted since the broker became unreachable, the rest counted as dropped
    When the meter sends its next telegram
    Then one measurement is published for it
    And in the measurement active_power_l1_w is 2500

  @MQ-07 @needs-own-broker @needs-http
  Scenario: Username and password instead of mTLS, for one's own broker
    Given a Smart Connect P1
    And an SMR 5.0 meter drawing 1000 W on L1
    And the installer's own MQTT broker, with an account for the device
    When the MQTT settings are changed to that broker with its right password and the device restarts
    Then the status shows MQTT connected
    And measurements from the device arrive on that broker

  @MQ-07 @needs-own-broker @needs-http
  Scenario: One's own broker refuses a wrong password
    Given a Smart Connect P1
    And an SMR 5.0 meter drawing 1000 W on L1
    And the installer's own MQTT broker, with an account for the device
    When the MQTT settings are changed to that broker with its wrong password and the device restarts
    Then the status shows MQTT not connected, with an error naming the refused login

  @sim-convention
  Scenario: Home Assistant finds the meter's sensors (simulator option --ha-discovery)
    Given a Smart Connect P1
    And the status shows MQTT connected
    Then an installer's MQTT client subscribed to homeassistant/# receives a retained sensor config for each of 12 measurement values, reading the device's measurements topic
