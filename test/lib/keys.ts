// The fixed keys the config, set and conf tests share (and the config files under
// test/fixtures/configs use): canonical base64, so that wg and wgm accept them alike. One home,
// so that a test writing `PublicKey = ${K1}` and a fixture file holding K1 mean the same peer.

/** A private key (its public key is mS5IO0H5HsXX8sVNE6FynPx+Bf6SlbCtRqfCr5NjVSU=). */
export const PRIV = 'cMlovxlOiyfJqLWtbmrh5LUEh+fuerBmgi2VX6tzMHE=';
/** A second private key, for a change of device key. */
export const PRIV2 = 'aFuOuQkq8wDPHUlHmMvKnR6RMdIcvzH3lG7nEjWBfGM=';
/** A preshared key. */
export const PSK = '4TEGXX3GBRHJzIZAzAVd0qF8g6SWu3ptGSFCEsy8mLQ=';
/** Peer public keys. */
export const K1 = 'Edc9G9Mp09sMgrs01ZxaSSV13FzN39BptNW8hK2SfUY=';
export const K2 = 'hiw3p78SJr2xQE/HLutafQQlVvyRmJWfuoDlXvyCeCc=';
export const K3 = 'gr4rvbWd+ynOHVufjeIKjBSo+g+v6pcoHH1z8HoUpz4=';
/** The all-zero key: "no key" on the wire. */
export const ZERO = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
