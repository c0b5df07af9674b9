// The fields `wg show <interface> <field>` takes, in wg's order (wireguard-tools src/show.c,
// show_usage and ugly_print): the tests' own list, independent of the CLI's table in
// src/cli/show-print.ts, so that a field the CLI lost makes a test fail.

export const WG_SHOW_FIELDS: readonly string[] = [
  'public-key',
  'private-key',
  'listen-port',
  'fwmark',
  'peers',
  'preshared-keys',
  'endpoints',
  'allowed-ips',
  'latest-handshakes',
  'transfer',
  'persistent-keepalive',
  'dump',
];
