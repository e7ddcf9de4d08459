//! Record encoding: one format-version byte, then JSON. The byte lets a later release change the encoding
//! and still read what an older one wrote; JSON keeps records readable when an operator must look inside.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

const FORMAT_JSON_V1: u8 = 1;

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut bytes = vec![FORMAT_JSON_V1];
    serde_json::to_writer(&mut bytes, value).map_err(|e| StoreError::Corrupt {
        what: "record",
        message: format!("cannot encode: {e}"),
    })?;
    Ok(bytes)
}

pub fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&FORMAT_JSON_V1, body)) => serde_json::from_slice(body).map_err(|e| StoreError::Corrupt {
            what,
            message: e.to_string(),
        }),
        Some((format, _)) => Err(StoreError::Corrupt {
            what,
            message: format!("unknown record format {format}"),
        }),
        None => Err(StoreError::Corrupt {
            what,
            message: "empty record".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_unknown_formats_are_refused() {
        let bytes = encode(&vec![1u32, 2]).unwrap();
        assert_eq!(bytes[0], FORMAT_JSON_V1);
        assert_eq!(decode::<Vec<u32>>("list", &bytes).unwrap(), vec![1, 2]);
        let mut future = bytes.clone();
        future[0] = 9;
        assert!(
            decode::<Vec<u32>>("list", &future)
                .unwrap_err()
                .to_string()
                .contains("unknown record format 9")
        );
    }
}
