//! `health` panics: the host must turn that into an error, not a crash.
use testkit::{Context, ConnectorError, SiteHealth};
struct Trap;
impl testkit::Fake for Trap {
    const NAME: &'static str = "trap";
    const VERSION: &'static str = "1.0.0";
    fn health(_ctx: Context) -> Result<SiteHealth, ConnectorError> {
        panic!("testkit trap: deliberate panic in health");
    }
}
testkit::export!(Trap);
