//! The HTTP configuration API through real HTTP(S) on loopback (API-01..11, FW-01/02,
//! WEB-01/06): authentication, the single session on the device clock, the config document
//! and merge patches with their errors, persistence, firmware, status, reset, the OpenAPI
//! document, HTTPS with the test CA, and every `curl` example of `docs/http-api.md`.

mod auth;
mod config;
mod curl_examples;
mod device;
mod hardening;
mod https;
mod limits;
mod openapi;
mod sim_routes;
mod support;
mod web_page;
