//! `health` never returns: the host's time budget must stop it.
use testkit::{Context, ConnectorError, SiteHealth};
struct Spin;
impl testkit::Fake for Spin {
    const NAME: &'static str = "spin";
    const VERSION: &'static str = "1.0.0";
    fn health(_ctx: Context) -> Result<SiteHealth, ConnectorError> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}
testkit::export!(Spin);
