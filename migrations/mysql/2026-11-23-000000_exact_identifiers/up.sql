-- Identifiers compare byte for byte. utf8mb4's default collation is
-- case-insensitive and pads spaces, so `dev_Alice` and `dev_alice` (or two
-- WeChat openids differing only in case) were one user. VARBINARY is exact
-- on MariaDB and MySQL alike (no collation, no padding). Loosening the
-- comparison cannot create duplicates, so existing rows convert as they are.
ALTER TABLE users
  MODIFY openid VARBINARY(128) NOT NULL,
  MODIFY unionid VARBINARY(128) NULL;
ALTER TABLE events
  MODIFY seed_hash BINARY(64) NOT NULL;
