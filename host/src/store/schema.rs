//! The schema version and the migrations that bring an older data dir up to it.
//!
//! A migration is a function from version N to N+1, run in order at open. Add one by appending to
//! [`MIGRATIONS`] and bumping [`SCHEMA_VERSION`]; a data dir from a newer build is refused, never rewritten.

use sled::Transactional;

use super::StoreError;

pub const SCHEMA_VERSION: u32 = 4;
const VERSION_KEY: &[u8] = b"schema_version";

type Migration = fn(&sled::Db) -> Result<(), StoreError>;

/// `MIGRATIONS[i]` takes the store from version `i + 1` to `i + 2`.
const MIGRATIONS: &[Migration] = &[
    index_appointments_by_practitioner,
    move_pms_state_to_its_own_tree,
    keep_only_link_digests,
];

/// 1 -> 2: the per-practitioner start index that the overlap rule reads.
fn index_appointments_by_practitioner(db: &sled::Db) -> Result<(), StoreError> {
    let appointments = db.open_tree("appointments")?;
    let index = db.open_tree("appointments_by_practitioner")?;
    for item in appointments.iter() {
        let (_, bytes) = item?;
        let appointment: crate::domain::Appointment = super::codec::decode("appointment", &bytes)?;
        let key = super::keys::appointment_by_practitioner(
            &appointment.clinic_id,
            appointment.practitioner_id.as_deref(),
            appointment.start,
            &appointment.id,
        );
        index.insert(key, appointment.id.as_bytes())?;
    }
    Ok(())
}

/// 2 -> 3: what the sync path knows of each appointment's PMS record leaves the appointment record for the
/// `pms_records` tree (the appointment's `pms` field, with the version it was about). An appointment whose
/// state was reset by its last change is recorded as about that version, as it said.
fn move_pms_state_to_its_own_tree(db: &sled::Db) -> Result<(), StoreError> {
    let appointments = db.open_tree("appointments")?;
    let records = db.open_tree("pms_records")?;
    for item in appointments.iter() {
        let (key, bytes) = item?;
        let mut value: serde_json::Value = super::codec::decode("appointment", &bytes)?;
        let Some(object) = value.as_object_mut() else { continue };
        let Some(pms) = object.remove("pms") else { continue };
        let version = object.get("version").and_then(serde_json::Value::as_u64).unwrap_or(0);
        let status: crate::domain::PmsSyncStatus = serde_json::from_value(pms).map_err(|e| StoreError::Corrupt {
            what: "appointment's PMS state",
            message: e.to_string(),
        })?;
        let record = crate::domain::PmsRecord {
            version,
            status,
            trouble_told: false,
        };
        // Both writes or neither: a crash between them re-runs this step, which finds the record moved.
        (&appointments, &records)
            .transaction(|(appointments, records)| {
                records.insert(&key, super::codec::encode(&record).map_err(abort)?)?;
                appointments.insert(&key, super::codec::encode(&value).map_err(abort)?)?;
                Ok(())
            })
            .map_err(super::tx_abort_error)?;
    }
    Ok(())
}

/// 3 -> 4: booking links keep only the SHA-256 of their capability, in the record and in the index that
/// finds a link by it; links already handed out keep working (they are found by their digest).
fn keep_only_link_digests(db: &sled::Db) -> Result<(), StoreError> {
    let links = db.open_tree("links")?;
    let index = db.open_tree("link_capabilities")?;
    for item in links.iter() {
        let (key, bytes) = item?;
        let mut value: serde_json::Value = super::codec::decode("booking link", &bytes)?;
        let Some(object) = value.as_object_mut() else { continue };
        let Some(capability) = object.remove("capability") else {
            continue;
        };
        let capability = capability.as_str().unwrap_or_default().to_string();
        let digest = crate::domain::digest(&capability);
        object.insert("capability_sha256".into(), serde_json::Value::String(digest.clone()));
        // All three or none: a crash re-runs this step, which skips a link already moved.
        (&links, &index)
            .transaction(|(links, index)| {
                links.insert(&key, super::codec::encode(&value).map_err(abort)?)?;
                index.remove(capability.as_bytes())?;
                index.insert(digest.as_bytes(), &key)?;
                Ok(())
            })
            .map_err(super::tx_abort_error)?;
    }
    Ok(())
}

fn abort(error: StoreError) -> sled::transaction::ConflictableTransactionError<StoreError> {
    sled::transaction::ConflictableTransactionError::Abort(error)
}

pub fn read_version(meta: &sled::Tree) -> Result<u32, StoreError> {
    match meta.get(VERSION_KEY)? {
        None => Ok(0),
        Some(bytes) => {
            let array: [u8; 4] = bytes.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                what: "schema version",
                message: format!("{} bytes instead of 4", bytes.len()),
            })?;
            Ok(u32::from_be_bytes(array))
        }
    }
}

pub fn migrate(db: &sled::Db, meta: &sled::Tree) -> Result<(), StoreError> {
    migrate_with(db, meta, SCHEMA_VERSION, MIGRATIONS)
}

fn migrate_with(db: &sled::Db, meta: &sled::Tree, target: u32, migrations: &[Migration]) -> Result<(), StoreError> {
    let mut version = read_version(meta)?;
    if version == 0 {
        // A new data dir starts at the current schema.
        meta.insert(VERSION_KEY, &target.to_be_bytes())?;
        db.flush()?;
        return Ok(());
    }
    if version > target {
        return Err(StoreError::SchemaTooNew {
            found: version,
            supported: target,
        });
    }
    while version < target {
        let step = migrations
            .get(version as usize - 1)
            .ok_or_else(|| StoreError::Corrupt {
                what: "schema version",
                message: format!("no migration from version {version}"),
            })?;
        tracing::info!(from = version, to = version + 1, "migrating store");
        step(db)?;
        version += 1;
        meta.insert(VERSION_KEY, &version.to_be_bytes())?;
        db.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_db() -> sled::Db {
        sled::Config::new().temporary(true).open().unwrap()
    }

    #[test]
    fn new_store_starts_at_current_version_and_newer_is_refused() {
        let db = temp_db();
        let meta = db.open_tree("meta").unwrap();
        migrate_with(&db, &meta, 1, &[]).unwrap();
        assert_eq!(read_version(&meta).unwrap(), 1);
        let err = migrate_with(&db, &meta, 0, &[]).unwrap_err();
        assert!(matches!(err, StoreError::SchemaTooNew { found: 1, supported: 0 }));
    }

    #[test]
    fn version_1_stores_gain_the_practitioner_index() {
        let db = temp_db();
        let meta = db.open_tree("meta").unwrap();
        meta.insert(VERSION_KEY, &1u32.to_be_bytes()).unwrap();
        let clinic = crate::domain::Clinic::create(
            "C".into(),
            crate::domain::NewClinic {
                name: "A".into(),
                timezone: "Australia/Sydney".into(),
                state: "NSW".into(),
                appointment_duration_minutes: 15,
            },
            jiff::Timestamp::UNIX_EPOCH,
        )
        .unwrap();
        let new = crate::domain::NewAppointment {
            practitioner_id: "P".into(),
            rep: crate::domain::Rep {
                name: "R".into(),
                company: "Co".into(),
                email: String::new(),
                phone: None,
            },
            start: "2030-01-10T09:00".into(),
            duration_minutes: None,
            notes: String::new(),
        };
        let appointment =
            crate::domain::Appointment::book("A1".into(), &clinic, new, jiff::Timestamp::UNIX_EPOCH).unwrap();
        db.open_tree("appointments")
            .unwrap()
            .insert("A1", super::super::codec::encode(&appointment).unwrap())
            .unwrap();
        migrate_with(&db, &meta, 2, MIGRATIONS).unwrap();
        assert_eq!(read_version(&meta).unwrap(), 2);
        let index = db.open_tree("appointments_by_practitioner").unwrap();
        assert_eq!(index.len(), 1);
        assert_eq!(index.iter().next().unwrap().unwrap().1.as_ref(), b"A1");
    }

    #[test]
    fn version_2_stores_move_each_appointments_pms_state_to_its_own_tree() {
        let db = temp_db();
        let meta = db.open_tree("meta").unwrap();
        meta.insert(VERSION_KEY, &2u32.to_be_bytes()).unwrap();
        // An appointment as version 2 wrote it: booked, moved once (version 2), synced into Bp as 7001.
        let old = serde_json::json!({
            "id": "A1", "reference": "A1", "clinic_id": "C", "practitioner_id": "P",
            "rep": {"name": "R", "company": "Co", "email": "", "phone": null},
            "start": "2030-01-09T22:00:00Z", "local_date": "2030-01-10", "local_seconds": 32400,
            "duration_minutes": 15, "notes": "", "status": "booked", "version": 2,
            "pms": {"state": "synced", "pms_id": "7001", "reason": null, "synced_version": 2, "attempts": 0,
                    "updated_at": "2029-12-01T00:00:00Z", "ever_sent": true, "in_doubt": false,
                    "confirmed": {"pms_id": "7001", "practitioner_user_id": 5, "date": "2030-01-10",
                                  "start_seconds": 32400, "duration_seconds": 900},
                    "delivered_by": "halo-bp", "sending_to": "halo-bp",
                    "held_by": [{"connector": "halo-bp", "pms_id": "7001"}]},
            "created_at": "2029-11-01T00:00:00Z", "updated_at": "2029-11-02T00:00:00Z",
            "source": {"kind": "staff"}, "time_id": null, "manage": null, "request_expires_at": null
        });
        db.open_tree("appointments")
            .unwrap()
            .insert("A1", super::super::codec::encode(&old).unwrap())
            .unwrap();
        migrate(&db, &meta).unwrap();
        assert_eq!(read_version(&meta).unwrap(), SCHEMA_VERSION);
        let bytes = db.open_tree("appointments").unwrap().get("A1").unwrap().unwrap();
        let raw: serde_json::Value = super::super::codec::decode("appointment", &bytes).unwrap();
        assert!(
            raw.get("pms").is_none(),
            "the appointment record no longer holds PMS state: {raw}"
        );
        let appointment: crate::domain::Appointment = super::super::codec::decode("appointment", &bytes).unwrap();
        let bytes = db.open_tree("pms_records").unwrap().get("A1").unwrap().unwrap();
        let record: crate::domain::PmsRecord = super::super::codec::decode("PMS record", &bytes).unwrap();
        assert_eq!(record.version, 2);
        let status = record.status_of(&appointment, false, true);
        assert_eq!(status.state, crate::domain::PmsSyncState::Synced);
        assert_eq!(status.pms_id.as_deref(), Some("7001"));
        assert_eq!(status.held_by.len(), 1);
        // Running it again (a crash after it finished, before the version was written) changes nothing.
        move_pms_state_to_its_own_tree(&db).unwrap();
        assert_eq!(db.open_tree("pms_records").unwrap().len(), 1);
    }

    #[test]
    fn version_3_links_keep_only_their_digest_and_old_urls_keep_working() {
        let db = temp_db();
        let meta = db.open_tree("meta").unwrap();
        meta.insert(VERSION_KEY, &3u32.to_be_bytes()).unwrap();
        let capability = "Qm9va2luZy1saW5rLWhhbmRlZC1vdXQtbG9uZy1hZ28";
        let old = serde_json::json!({
            "id": "L1", "clinic_id": "C", "label": "Acme reps", "categories": [],
            "capability": capability, "created_at": "2026-01-01T00:00:00Z", "revoked_at": null
        });
        let key = super::super::keys::owned("C", "L1");
        db.open_tree("links")
            .unwrap()
            .insert(&key, super::super::codec::encode(&old).unwrap())
            .unwrap();
        db.open_tree("link_capabilities")
            .unwrap()
            .insert(capability.as_bytes(), key.as_slice())
            .unwrap();
        migrate(&db, &meta).unwrap();
        assert_eq!(read_version(&meta).unwrap(), SCHEMA_VERSION);
        // Nowhere in the links' trees is the capability any more.
        for tree in ["links", "link_capabilities"] {
            for item in db.open_tree(tree).unwrap().iter() {
                let (k, v) = item.unwrap();
                let text = format!("{}{}", String::from_utf8_lossy(&k), String::from_utf8_lossy(&v));
                assert!(!text.contains(capability), "{tree} still holds the capability: {text}");
            }
        }
        let bytes = db.open_tree("links").unwrap().get(&key).unwrap().unwrap();
        let link: crate::domain::BookingLink = super::super::codec::decode("booking link", &bytes).unwrap();
        assert_eq!(link.capability_sha256, crate::domain::digest(capability));
        let found = db
            .open_tree("link_capabilities")
            .unwrap()
            .get(crate::domain::digest(capability).as_bytes())
            .unwrap();
        assert_eq!(
            found.as_deref(),
            Some(key.as_slice()),
            "the handed-out URL still finds its link"
        );
        keep_only_link_digests(&db).unwrap();
        assert_eq!(db.open_tree("link_capabilities").unwrap().len(), 1);
    }

    #[test]
    fn migrations_run_in_order_once() {
        fn add_marker(db: &sled::Db) -> Result<(), StoreError> {
            let tree = db.open_tree("markers")?;
            let n = tree.len() as u8;
            tree.insert([n], &[])?;
            Ok(())
        }
        let db = temp_db();
        let meta = db.open_tree("meta").unwrap();
        migrate_with(&db, &meta, 1, &[]).unwrap();
        migrate_with(&db, &meta, 3, &[add_marker, add_marker]).unwrap();
        migrate_with(&db, &meta, 3, &[add_marker, add_marker]).unwrap();
        assert_eq!(read_version(&meta).unwrap(), 3);
        assert_eq!(db.open_tree("markers").unwrap().len(), 2);
    }
}
