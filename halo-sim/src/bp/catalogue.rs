//! The stored procedures `shared/reference/bp-sdk.md` documents, as a catalogue: each one's name,
//! parameters (name, type, required) in the order the reference's sources pass them, and whether it writes.

use crate::sql::SqlType;

/// A documented procedure: its name and parameters (name, type, required).
pub struct Procedure {
    pub name: &'static str,
    pub params: &'static [(&'static str, SqlType, bool)],
    pub writes: bool,
}

use SqlType::{Date as D, Int as I, Text as T};

/// Parameter order follows the reference's sources, so positional calls bind as they did there.
pub const PROCEDURES: &[Procedure] = &[
    Procedure {
        name: "BP_AddAppointment",
        params: &[
            ("@aptdate", D, true),
            ("@apttime", I, true),
            ("@aptlen", I, true),
            ("@practitionerid", I, true),
            ("@patientid", I, true),
            ("@loginid", I, false),
            ("@locationid", I, false),
        ],
        writes: true,
    },
    Procedure {
        name: "BP_AddAppointmentEx",
        params: &[
            ("@aptdate", D, true),
            ("@apttime", I, true),
            ("@appointmenttype", I, true),
            ("@aptlen", I, true),
            ("@practitionerid", I, true),
            ("@patientid", I, true),
            ("@reason", T, true),
            ("@loginid", I, false),
            ("@locationid", I, false),
            ("@videourl", T, false),
        ],
        writes: true,
    },
    Procedure {
        name: "BP_MoveAppointment",
        params: &[
            ("@aptid", I, true),
            ("@aptdate", D, true),
            ("@apttime", I, true),
            ("@practitionerid", I, true),
            ("@locationid", I, true),
        ],
        writes: true,
    },
    Procedure {
        name: "BP_UpdateAppointment",
        params: &[
            ("@aptid", I, true),
            ("@apttype", I, true),
            ("@aptlen", I, true),
            ("@reason", T, true),
        ],
        writes: true,
    },
    Procedure {
        name: "BP_CancelAppointment",
        params: &[("@aptid", I, true), ("@loginid", I, false)],
        writes: true,
    },
    Procedure {
        name: "BP_ArriveAppointment",
        params: &[("@aptid", I, true)],
        writes: true,
    },
    Procedure {
        name: "BP_IsAppointmentBooked",
        params: &[("@userid", I, true), ("@aptdate", D, true), ("@apttime", I, true)],
        writes: false,
    },
    Procedure {
        name: "BP_GetFreeAppointments",
        params: &[("@userid", I, true), ("@aptdate", D, true)],
        writes: false,
    },
    Procedure {
        name: "BP_GetAllSessions",
        params: &[],
        writes: false,
    },
    Procedure {
        name: "BP_GetAppointmentDetails",
        params: &[("@aptid", I, true)],
        writes: false,
    },
    Procedure {
        name: "BP_GetPatientAppointments",
        params: &[("@patientid", I, true)],
        writes: false,
    },
    Procedure {
        name: "BP_GetAllUsers",
        params: &[],
        writes: false,
    },
    Procedure {
        name: "BP_GetAppointmentBookUsers",
        params: &[],
        writes: false,
    },
    Procedure {
        name: "BP_GetPracticeLocations",
        params: &[],
        writes: false,
    },
    Procedure {
        name: "BP_GetPracticeLocation",
        params: &[("@locationid", I, true)],
        writes: false,
    },
];

pub fn procedure(name: &str) -> Option<&'static Procedure> {
    PROCEDURES.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}
