//! End-to-end tests: the real `pcapxray` binary, real plugins through the real host, real captures.

mod support;

mod beacon;
mod captures;
mod dns_devices;
mod enrich;
mod errors;
mod golden;
mod limits;
mod suspicious;
mod tor;
mod torfetch;
