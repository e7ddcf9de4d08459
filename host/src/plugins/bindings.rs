//! Generated bindings, one module per released WIT version (see `wit/README.md` for the rule).
//! Only this file and `connector.rs` know the generated types; the rest of the host uses `contract`.

pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/pms-0.1.0",
        world: "connector-world",
        imports: { default: async },
        exports: { default: async },
    });
}
