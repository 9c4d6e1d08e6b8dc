@http @needs-http
Feature: The HTTP configuration API
  The Smart Connect is configured over an HTTP API under /api/v1: the settings, the status,
  the firmware and a restart. Every request logs in with Basic authentication as user "user"
  with the password printed on the device label, and only one client can use the API at a
  time.

  Background:
    Given a Smart Connect P1

  @API-01 @smoke
  Scenario: The API lets in user "user" with the password from the label
    When a client asks for the status as user "user" with the label password
    Then the answer is 200 with a JSON document

  @API-01 @API-08
  Scenario Outline: Without the right credentials the API asks for Basic authentication
    When a client asks for <what> <credentials>
    Then the answer is 401 with a Basic authentication challenge

    Examples:
      | what              | credentials                             |
      | the status        | without credentials                     |
      | the status        | as user "user" with a wrong password    |
      | the configuration | as user "admin" with the label password |
      | the firmware      | as user "user" with an empty password   |

  @API-02 @API-08 @smoke
  Scenario: A second client is turned away while the first holds the session
    Given a first client is using the API
    When a second client, from another address, asks for the status
    Then the second client is refused with 409 and a JSON error
    And the first client still gets the status

  @API-08 @sim-convention
  Scenario: The session ends after 5 minutes without requests from its holder
    Given a first client is using the API
    When the first client makes no request for 4 minutes 50 seconds
    Then a second client, from another address, is still refused with 409
    When the first client makes no request for 15 more seconds
    Then a second client, from another address, gets the status
    And the first client is now refused with 409

  @API-08 @sim-convention
  Scenario: A client that asks something every minute keeps the session
    Given a first client is using the API
    When the first client asks for the status once a minute for 12 minutes
    Then a second client, from another address, is still refused with 409
    And the first client still gets the status

  @API-05 @FW-01 @smoke
  Scenario: The firmware resource shows the version and the update state
    When a client asks for the firmware as user "user" with the label password
    Then the answer is 200 with a JSON document
    And the answer names a firmware version number and the update state "idle"

  @API-05 @FW-01 @needs-update-server
  Scenario: Posting to the firmware resource starts an update
    Given the update server offers firmware 1.5.0
    When a client sends POST /api/v1/firmware asking for version 1.5.0
    Then the answer is a success
    And the firmware resource shows the update state "downloading"
    And within 2 minutes the firmware resource shows version 1.5.0 and the update state "idle"

  @API-06 @smoke
  Scenario: The status has the sections and fields the web page shows
    Given an SMR 5.0 meter drawing 1000 W on L1
    And 5 seconds have passed
    When a client asks for the status as user "user" with the label password
    Then the answer is 200 with a JSON document
    And the status answer holds
      | section | field             | value                         |
      | System  | Serial            | (the serial on the label)     |
      | System  | Firmware          | (a version number)            |
      | System  | FirmwareUpdate    | idle                          |
      | System  | UptimeS           | (a number)                    |
      | System  | Hostname          | smart-connect-(serial)        |
      | Meter   | State             | receiving                     |
      | Meter   | Protocol          | (any)                         |
      | Meter   | LastTelegram      | (a number)                    |
      | Meter   | TelegramsOk       | (a number)                    |
      | Meter   | TelegramsRejected | 0                             |
      | Network | ActiveInterface   | Ethernet                      |
      | Network | IpMode            | DHCP                          |
      | Network | Address           | (an IPv4 address)             |
      | Network | Mdns              | smart-connect.local           |
      | Network | Link              | true                          |
      | Network | Network           | true                          |
      | Network | Internet          | true                          |
      | Network | MQTT              | (true or false)               |
      | MQTT    | Enabled           | true                          |
      | LED     | Colour            | green                         |

  @API-07 @needs-modbus @needs-status @smoke
  Scenario: A soft reset over the API restarts the device, which then reconnects
    Given an SMR 5.0 meter drawing 1000 W on L1
    And 5 seconds have passed
    And the status shows an uptime of at least 5 seconds
    When a client sends POST /api/v1/reset
    Then the answer is a success
    And the device does not answer on the network yet
    When 10 seconds pass
    Then the status shows an uptime of less than 15 seconds
    And the status shows the address handed out by the DHCP server
    And the total active power reads 1000 W

  @WEB-06 @sim-convention
  Scenario: The API describes itself in an OpenAPI document
    When a client asks for /api/v1/openapi.json without credentials
    Then the answer is 200 with a JSON document
    And the answer is an OpenAPI 3 document with Basic authentication that lists
      | method | path             |
      | GET    | /api/v1/config   |
      | PATCH  | /api/v1/config   |
      | GET    | /api/v1/firmware |
      | POST   | /api/v1/firmware |
      | GET    | /api/v1/status   |
      | POST   | /api/v1/reset    |
    And every GET route the document lists answers 200 as user "user" with the label password
