// The verb table, in the spirit of wireguard-tools' wg.c: name, one-line description, and a
// loader. Loading is lazy so that `wgm genkey` loads only what genkey needs.

import type { VerbRun } from './context.js';

export interface VerbModule {
  run: VerbRun;
}

export interface Verb {
  name: string;
  /** Words after the verb, for help output. */
  args: string;
  describe: string;
  /** 'wg' verbs behave like wg's, 'quick' like wg-quick's, 'wgm' are wgm's own. */
  family: 'wg' | 'quick' | 'wgm';
  load: () => Promise<VerbModule>;
}

export const VERBS: readonly Verb[] = [
  {
    name: 'show',
    args: '[{ <interface> | all | interfaces } [<field> | dump]] [--json]',
    describe: 'Shows the current configuration and device information',
    family: 'wg',
    load: () => import('./show.js'),
  },
  {
    name: 'showconf',
    args: '<interface>',
    describe: "Shows the current configuration of a given WireGuard interface, for use with `setconf'",
    family: 'wg',
    load: () => import('./showconf.js'),
  },
  {
    name: 'set',
    args: '<interface> [listen-port <port>] [fwmark <mark>] [private-key <file>] [peer <key> ...]...',
    describe: 'Change the current configuration, add peers, remove peers, or change peers',
    family: 'wg',
    load: () => import('./set.js'),
  },
  {
    name: 'setconf',
    args: '<interface> <configuration filename>',
    describe: 'Applies a configuration file to a WireGuard interface',
    family: 'wg',
    load: () => import('./setconf.js'),
  },
  {
    name: 'addconf',
    args: '<interface> <configuration filename>',
    describe: 'Appends a configuration file to a WireGuard interface',
    family: 'wg',
    load: () => import('./addconf.js'),
  },
  {
    name: 'syncconf',
    args: '<interface> <configuration filename>',
    describe: 'Synchronizes a configuration file to a WireGuard interface',
    family: 'wg',
    load: () => import('./syncconf.js'),
  },
  {
    name: 'genkey',
    args: '',
    describe: 'Generates a new private key and writes it to stdout',
    family: 'wg',
    load: () => import('./genkey.js'),
  },
  {
    name: 'genpsk',
    args: '',
    describe: 'Generates a new preshared key and writes it to stdout',
    family: 'wg',
    load: () => import('./genpsk.js'),
  },
  {
    name: 'pubkey',
    args: '',
    describe: 'Reads a private key from stdin and writes a public key to stdout',
    family: 'wg',
    load: () => import('./pubkey.js'),
  },
  {
    name: 'up',
    args: '<CONFIG_FILE | INTERFACE>',
    describe: 'Sets up an interface from its configuration file',
    family: 'quick',
    load: () => import('./up.js'),
  },
  {
    name: 'down',
    args: '<CONFIG_FILE | INTERFACE>',
    describe: 'Tears down an interface set up by up',
    family: 'quick',
    load: () => import('./down.js'),
  },
  {
    name: 'reload',
    args: '<CONFIG_FILE | INTERFACE>',
    describe: 'Applies a changed configuration file to a running interface, keeping its sessions',
    family: 'quick',
    load: () => import('./reload.js'),
  },
  {
    name: 'save',
    args: '<CONFIG_FILE | INTERFACE>',
    describe: 'Saves the running configuration to its file',
    family: 'quick',
    load: () => import('./save.js'),
  },
  {
    name: 'strip',
    args: '<CONFIG_FILE | INTERFACE>',
    describe: 'Prints the configuration without the wg-quick additions',
    family: 'quick',
    load: () => import('./strip.js'),
  },
  {
    name: 'probe',
    args: '[<interface>] [--json]',
    describe: 'Tells which WireGuard backends this host has and what each can hold',
    family: 'wgm',
    load: () => import('./probe.js'),
  },
  {
    name: 'monitor',
    args: '[<interface>] [--json]',
    describe: 'Streams endpoint changes of wgm-engine interfaces as they happen',
    family: 'wgm',
    load: () => import('./monitor.js'),
  },
];

export function findVerb(name: string): Verb | undefined {
  return VERBS.find((v) => v.name === name);
}
