//! The embedded default's key: made on first start and kept in a file
//! only its owner may read (0600), beside the SQLite file, so that a dev
//! server seals personal data with no setting and still opens it after a
//! restart. `prod` never uses a file: it refuses to start without
//! `LOTTERY_PII_KEYS`.

use std::fs;
use std::io::Write;
#[cfg(unix)]
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::Keyring;

/// Where the embedded default keeps its key for a SQLite database file.
pub fn beside(database_file: &Path) -> PathBuf {
    let mut name = database_file.as_os_str().to_owned();
    name.push(".pii-keys");
    PathBuf::from(name)
}

/// The keys the file holds (the setting's form), made first if there is
/// no file. Several servers starting at once on one file agree: the file
/// appears whole or not at all (written aside, then linked into place,
/// which fails if another got there first).
pub fn load_or_create(path: &Path) -> Result<String, String> {
    if let Some(keys) = read(path)? {
        return Ok(keys);
    }
    // Unique to this attempt: servers (or threads) racing each write their own.
    let aside = path.with_extension(format!(
        "new-{}-{:x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let setting = Keyring::new_key_setting("dev1");
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    // Elsewhere than Unix the file gets the directory's access rules.
    #[cfg(unix)]
    options.mode(0o600);
    let written = options.open(&aside).and_then(|mut file| {
        file.write_all(setting.as_bytes())?;
        file.sync_all()
    });
    if let Err(err) = written {
        let _ = fs::remove_file(&aside);
        return Err(format!(
            "cannot write the key file {}: {err}",
            aside.display()
        ));
    }
    let linked = fs::hard_link(&aside, path);
    let _ = fs::remove_file(&aside);
    match linked {
        Ok(()) => Ok(setting),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            read(path)?.ok_or_else(|| format!("the key file {} vanished", path.display()))
        }
        Err(err) => Err(format!(
            "cannot create the key file {}: {err}",
            path.display()
        )),
    }
}

fn read(path: &Path) -> Result<Option<String>, String> {
    match fs::read_to_string(path) {
        Ok(keys) => {
            #[cfg(unix)]
            refuse_shared(path)?;
            Ok(Some(keys.trim().to_string()))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(format!(
            "cannot read the key file {}: {err}",
            path.display()
        )),
    }
}

/// A key file others may read is refused: its key opens everything it
/// sealed.
#[cfg(unix)]
fn refuse_shared(path: &Path) -> Result<(), String> {
    let mode = fs::metadata(path)
        .map_err(|e| e.to_string())?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "the key file {} may be read by others (mode {:o}): chmod 600 it",
            path.display(),
            mode & 0o777
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "lottery-key-file-{}-{name}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        fs::create_dir_all(&dir).unwrap();
        dir.join("lottery.db")
    }

    #[test]
    fn the_first_start_makes_a_private_key_file_and_later_starts_reuse_it() {
        let path = beside(&scratch("reuse"));
        assert!(path.to_string_lossy().ends_with("lottery.db.pii-keys"));
        let first = load_or_create(&path).unwrap();
        #[cfg(unix)]
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(load_or_create(&path).unwrap(), first);
        let keys = Keyring::parse(&first).unwrap();
        let sealed = keys.seal(b"c", b"x");
        let again = Keyring::parse(&load_or_create(&path).unwrap()).unwrap();
        assert_eq!(again.open(b"c", &sealed).unwrap(), b"x");
    }

    #[test]
    fn servers_starting_at_once_agree_on_one_key() {
        let path = beside(&scratch("race"));
        let found: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| load_or_create(&path))).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap().unwrap())
                .collect()
        });
        assert!(found.iter().all(|k| k == &found[0]), "{found:?}");
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_may_read_is_refused() {
        let path = beside(&scratch("open"));
        load_or_create(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(&path).unwrap_err();
        assert!(err.contains("chmod 600"), "{err}");
    }
}
