@firmware @needs-http
Feature: Firmware version and updates
  The firmware version and the state of an update can be read over the HTTP API, and an
  update can be started there. An update downloads, verifies and installs the new image,
  then restarts into it; an image that fails verification leaves the old version running.

  Background:
    Given a Smart Connect P1
    And an SMR 5.0 meter drawing 1000 W on L1

  @FW-01 @needs-status
  Scenario: The firmware version and update state can be read
    Then the firmware API reports a version number and the update state "idle"
    And the status reports the same firmware version

  @FW-01 @FW-02 @needs-update-server @needs-modbus @needs-status
  Scenario: An update goes through every state and ends on the new version
    Given the update server offers firmware 1.5.0
    When an update to 1.5.0 is requested over HTTP
    Then the update is accepted
    And polling the firmware API every second shows downloading, verifying, installing, rebooting and then idle on version 1.5.0
    And the status reports firmware version 1.5.0
    And the total active power reads 1000 W

  @FW-02 @sim-convention @needs-update-server @needs-modbus @needs-status
  Scenario: A corrupt image fails verification and the old version keeps running
    Given the update server offers a corrupt image 1.6.0
    When an update to 1.6.0 is requested over HTTP
    Then the update is accepted
    And polling the firmware API every second shows downloading, verifying and then failed with a reason
    And the firmware version is still the one from before the update
    And the status shows why the update to 1.6.0 failed
    And the status shows an uptime of at least 10 seconds
    And the total active power reads 1000 W

  @FW-02 @sim-convention
  Scenario: An update to a version the update server does not offer is refused at once
    When an update to 9.9.9 is requested over HTTP
    Then the update is refused naming 9.9.9 and the versions on offer
    And the firmware API reports a version number and the update state "idle"

  @FW-02 @sim-convention @needs-update-server
  Scenario: A second update is refused while one is running
    Given the update server offers firmware 1.5.0
    When an update to 1.5.0 is requested over HTTP
    And 2 seconds pass
    And an update to 1.5.0 is requested over HTTP
    Then the update is refused
    And the firmware API reports a version number and the update state "downloading"
