// The allowed-IPs table (whitepaper 4, "cryptokey routing"): a longest-prefix-match table per
// address family, mapping prefixes to peers. On send it picks the peer for a destination; on
// receive it checks that a decrypted packet's source belongs to the peer that sent it.
//
// Semantics as the kernel (drivers/net/wireguard/allowedips.c) and wireguard-go
// (device/allowedips.go) have them:
// - prefixes are stored masked (10.0.3.1/24 is 10.0.3.0/24);
// - a peer's prefixes are listed in insertion order, and a prefix added again keeps its place;
// - a prefix that belonged to another peer moves to the new peer (to the end of its list).
//
// The trie is path-compressed and binary: each node holds a masked prefix, an optional owner,
// and two children chosen by the first bit after the prefix. Pure; no I/O at import time.

export type Family = 4 | 6;

export interface Prefix {
  family: Family;
  /** Masked network-order bytes, 4 or 16. */
  address: Uint8Array;
  cidr: number;
}

/**
 * A trie node. `bits` holds the prefix in its first `cidr` bits; what follows is not read, so a
 * node made where two prefixes diverge shares the bytes of the prefix that made it instead of
 * a masked copy of its own. The children are two fields rather than a pair: a node per prefix
 * or two, in the core and in every data-plane worker, and an array costs ~64 bytes more each.
 */
interface Node<P> {
  bits: Uint8Array;
  cidr: number;
  owner: P | undefined;
  parent: Node<P> | undefined;
  /** The child whose next bit (bit `cidr`) is 0, and the one whose next bit is 1. */
  zero: Node<P> | undefined;
  one: Node<P> | undefined;
}

const childOf = <P>(n: Node<P>, side: 0 | 1): Node<P> | undefined => (side === 0 ? n.zero : n.one);

function setChild<P>(n: Node<P>, side: 0 | 1, c: Node<P> | undefined): void {
  if (side === 0) n.zero = c;
  else n.one = c;
}

const lengthOf = (f: Family) => (f === 4 ? 4 : 16);

/** Bit `i` (0 = most significant of byte 0) of `b` starting at `off`. */
function bitAt(b: Uint8Array, off: number, i: number): 0 | 1 {
  return ((b[off + (i >> 3)]! >> (7 - (i & 7))) & 1) as 0 | 1;
}

/** Leading bits that `a` and `b` (at `off`) share, up to `max`. */
function commonBits(a: Uint8Array, b: Uint8Array, off: number, max: number): number {
  let n = 0;
  for (let i = 0; n < max; i++) {
    const x = a[i]! ^ b[off + i]!;
    if (x === 0) {
      n += 8;
      continue;
    }
    n += Math.clz32(x) - 24;
    break;
  }
  return Math.min(n, max);
}

export function maskPrefix(address: Uint8Array, cidr: number): Uint8Array {
  const out = Uint8Array.from(address);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, cidr - i * 8));
    out[i]! &= keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
  }
  return out;
}

function samePrefix(p: Prefix, family: Family, bits: Uint8Array, cidr: number): boolean {
  if (p.family !== family || p.cidr !== cidr) return false;
  for (let i = 0; i < bits.length; i++) if (p.address[i] !== bits[i]) return false;
  return true;
}

function prefixKey(family: Family, bits: Uint8Array, cidr: number): string {
  let s = `${family}/${cidr}/`;
  for (const b of bits) s += b.toString(16).padStart(2, '0');
  return s;
}

export class AllowedIPs<P> {
  private readonly roots: Record<Family, Node<P> | undefined> = { 4: undefined, 6: undefined };
  /**
   * Per owner, its prefixes in insertion order: the prefix itself while the owner has one (most
   * peers: a Map and its key string cost ~0.3 KiB, in the core and in every data-plane worker),
   * a Map by prefixKey from the second on.
   */
  private readonly byOwner = new Map<P, Prefix | Map<string, Prefix>>();

  /** Maps `address/cidr` to `owner`, moving it from any other owner. Throws on a bad cidr. */
  insert(family: Family, address: Uint8Array, cidr: number, owner: P): void {
    const len = lengthOf(family);
    if (address.length !== len) throw new RangeError(`IPv${family} address must be ${len} bytes`);
    if (!(Number.isInteger(cidr) && cidr >= 0 && cidr <= len * 8)) throw new RangeError(`bad cidr ${cidr}`);
    const bits = maskPrefix(address, cidr);
    const node = this.findOrCreate(family, bits, cidr);
    if (node.owner !== undefined && node.owner !== owner) this.unlist(node.owner, family, bits, cidr);
    node.owner = owner;
    this.list(owner, { family, address: bits, cidr });
  }

  /** Adds `p` at the end of `owner`'s prefixes unless it is among them. */
  private list(owner: P, p: Prefix): void {
    const held = this.byOwner.get(owner);
    if (!held) this.byOwner.set(owner, p);
    else if (held instanceof Map) {
      const key = prefixKey(p.family, p.address, p.cidr);
      if (!held.has(key)) held.set(key, p);
    } else if (!samePrefix(held, p.family, p.address, p.cidr)) {
      const two = new Map<string, Prefix>();
      two.set(prefixKey(held.family, held.address, held.cidr), held);
      two.set(prefixKey(p.family, p.address, p.cidr), p);
      this.byOwner.set(owner, two);
    }
  }

  /** Drops a prefix from `owner`'s list. */
  private unlist(owner: P, family: Family, bits: Uint8Array, cidr: number): void {
    const held = this.byOwner.get(owner);
    if (held instanceof Map) held.delete(prefixKey(family, bits, cidr));
    else if (held && samePrefix(held, family, bits, cidr)) this.byOwner.delete(owner);
  }

  /** Removes `address/cidr` if `owner` holds it (wireguard-go's `-prefix`). True if removed. */
  remove(family: Family, address: Uint8Array, cidr: number, owner: P): boolean {
    const len = lengthOf(family);
    if (address.length !== len || !(cidr >= 0 && cidr <= len * 8)) return false;
    const bits = maskPrefix(address, cidr);
    const node = this.findExact(family, bits, cidr);
    if (!node || node.owner !== owner) return false;
    this.unlist(owner, family, bits, cidr);
    this.detach(family, node);
    return true;
  }

  /** Removes every prefix of `owner`. */
  removeOwner(owner: P): void {
    for (const p of this.listOf(owner)) this.remove(p.family, p.address, p.cidr, owner);
    this.byOwner.delete(owner);
  }

  /** The prefixes of `owner` in insertion order (copies). */
  entries(owner: P): Prefix[] {
    return this.listOf(owner).map((p) => ({
      family: p.family,
      address: Uint8Array.from(p.address),
      cidr: p.cidr,
    }));
  }

  /** `owner`'s prefixes in insertion order (the held objects, in an array of their own). */
  private listOf(owner: P): Prefix[] {
    const held = this.byOwner.get(owner);
    if (!held) return [];
    return held instanceof Map ? [...held.values()] : [held];
  }

  /** Longest-prefix match of the address at `bytes[offset..]`. */
  lookup(family: Family, bytes: Uint8Array, offset = 0): P | undefined {
    const max = lengthOf(family) * 8;
    if (bytes.length < offset + max / 8) return undefined;
    let node = this.roots[family];
    let best: P | undefined;
    while (node) {
      if (commonBits(node.bits, bytes, offset, node.cidr) < node.cidr) break;
      if (node.owner !== undefined) best = node.owner;
      if (node.cidr === max) break;
      node = childOf(node, bitAt(bytes, offset, node.cidr));
    }
    return best;
  }

  /** The peer for an IP packet's destination (routing on send); undefined if not IPv4/IPv6. */
  lookupDestination(packet: Uint8Array): P | undefined {
    const v = packet.length > 0 ? packet[0]! >> 4 : 0;
    if (v === 4 && packet.length >= 20) return this.lookup(4, packet, 16);
    if (v === 6 && packet.length >= 40) return this.lookup(6, packet, 24);
    return undefined;
  }

  /** The peer owning an IP packet's source (the check on receive). */
  lookupSource(packet: Uint8Array): P | undefined {
    const v = packet.length > 0 ? packet[0]! >> 4 : 0;
    if (v === 4 && packet.length >= 20) return this.lookup(4, packet, 12);
    if (v === 6 && packet.length >= 40) return this.lookup(6, packet, 8);
    return undefined;
  }

  private findExact(family: Family, bits: Uint8Array, cidr: number): Node<P> | undefined {
    let node = this.roots[family];
    while (node && node.cidr <= cidr) {
      if (commonBits(node.bits, bits, 0, node.cidr) < node.cidr) return undefined;
      if (node.cidr === cidr) return node;
      node = childOf(node, bitAt(bits, 0, node.cidr));
    }
    return undefined;
  }

  private findOrCreate(family: Family, bits: Uint8Array, cidr: number): Node<P> {
    const fresh = (parent: Node<P> | undefined, at = cidr): Node<P> => ({
      bits,
      cidr: at,
      owner: undefined,
      parent,
      zero: undefined,
      one: undefined,
    });
    const root = this.roots[family];
    if (!root) {
      const first = fresh(undefined);
      this.roots[family] = first;
      return first;
    }
    let node: Node<P> = root;
    for (;;) {
      const common = commonBits(node.bits, bits, 0, Math.min(node.cidr, cidr));
      if (common === node.cidr && node.cidr === cidr) return node;
      if (common === node.cidr) {
        // `node` is a proper prefix of the new one: go down, or hang it here.
        const side = bitAt(bits, 0, node.cidr);
        const next = childOf(node, side);
        if (!next) {
          const leaf = fresh(node);
          setChild(node, side, leaf);
          return leaf;
        }
        node = next;
        continue;
      }
      // They diverge above node.cidr: put a node at `common` in node's place.
      const parent = node.parent;
      let top: Node<P>;
      if (common === cidr) {
        top = fresh(parent);
        setChild(top, bitAt(node.bits, 0, cidr), node);
      } else {
        top = fresh(parent, common);
        const leaf = fresh(top);
        setChild(top, bitAt(node.bits, 0, common), node);
        setChild(top, bitAt(bits, 0, common), leaf);
        node.parent = top;
        this.replaceLink(family, parent, node, top);
        return leaf;
      }
      node.parent = top;
      this.replaceLink(family, parent, node, top);
      return top;
    }
  }

  private replaceLink(
    family: Family,
    parent: Node<P> | undefined,
    old: Node<P>,
    by: Node<P> | undefined,
  ): void {
    if (!parent) this.roots[family] = by;
    else if (parent.zero === old) parent.zero = by;
    else parent.one = by;
    if (by) by.parent = parent;
  }

  /** Clears a node's owner and removes nodes that no longer route anything. */
  private detach(family: Family, node: Node<P>): void {
    node.owner = undefined;
    let n: Node<P> | undefined = node;
    while (n && n.owner === undefined) {
      const a = n.zero;
      const b = n.one;
      if (a && b) return;
      const only = a ?? b;
      const parent: Node<P> | undefined = n.parent;
      this.replaceLink(family, parent, n, only);
      if (only) return;
      n = parent;
    }
  }
}
