#![no_main]
//! Halo Cloud answers, as bytes off the wire, through halo-bp's decoding (its `query.rs`, compiled natively
//! here): SQL error parsing, base64 row data, and the column readers every procedure result goes through.

/// The one WIT type `query.rs` uses, as wit-bindgen generates it for `repbook:pms/types`.
mod repbook {
    pub mod pms {
        pub mod types {
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            pub struct LocalDate {
                pub year: u16,
                pub month: u8,
                pub day: u8,
            }
        }
    }
}

#[allow(dead_code)]
#[path = "../../plugins/halo-bp/src/query.rs"]
mod query;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let Ok(answer) = serde_json::from_slice::<serde_json::Value>(bytes) else { return };
    let _ = query::query_error(&answer);
    if let Ok(result) = query::decode_result(&answer) {
        for row in &result.rows {
            let _ = query::int_of(row, &["RecordID", "USERID", "id"]);
            let _ = query::text_of(row, &["Reason", "SURNAME"]);
            let _ = query::date_of(row, &["AppointmentDate", "WHEN"]);
        }
    }
});
