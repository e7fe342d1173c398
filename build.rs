//! Marks the tests that need a real MySQL, Redis, etcd or S3 store (or the
//! servers to start with TLS): without the URL they are
//! compiled as `#[ignore]`d, so `cargo test` reports them as ignored instead
//! of "passed" (a test that returns early looks like a pass). Changing either
//! variable rebuilds the test targets.
//!
//! Also rebuilds the crate when a migration is added: `embed_migrations!`
//! reads the folders at compile time.

fn main() {
    println!("cargo::rerun-if-changed=migrations");
    for (var, cfg) in [
        ("LOTTERY_TEST_MYSQL_URL", "lottery_test_mysql"),
        ("LOTTERY_TEST_REDIS_URL", "lottery_test_redis"),
        ("LOTTERY_TEST_ETCD_URL", "lottery_test_etcd"),
        ("LOTTERY_TEST_S3_URL", "lottery_test_s3"),
        // Any value: the machine has mariadbd and redis-server, which the
        // TLS tests start themselves with certificates they make.
        ("LOTTERY_TEST_TLS_SERVERS", "lottery_test_tls"),
    ] {
        println!("cargo::rerun-if-env-changed={var}");
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if std::env::var(var).is_ok_and(|v| !v.is_empty()) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
