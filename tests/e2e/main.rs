//! End-to-end tests: the real `pcapxray` binary, real plugins through the real host, real captures.

mod support;

mod authoring;
mod beacon;
mod behaviour;
mod bounded;
mod captures;
mod credentials;
mod dns_devices;
mod encap;
mod enrich;
mod errors;
mod fates;
mod files;
mod folder;
mod golden;
mod graph;
mod html;
mod lake;
mod lake_merge;
mod limits;
mod precision;
mod reports;
mod rollup;
mod serve;
mod spark;
mod streams;
mod suspicious;
mod tables;
mod tor;
mod torfetch;
mod web;
mod workbench;
