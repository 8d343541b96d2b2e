-- The vault (core/vault): secrets encrypted with XChaCha20-Poly1305 under the master key, which
-- is never stored here. ciphertext is base64 of nonce (24 bytes) || sealed value; the associated
-- data binds it to (owner, name), so a row copied under another name does not open.
CREATE TABLE vault_secrets (
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    ciphertext TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (owner, name)
);

-- One row: a constant sealed under the master key, so a wrong key is refused at start even
-- before any secret is stored.
CREATE TABLE vault_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    key_check TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
