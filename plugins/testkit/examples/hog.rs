//! `health` allocates (and touches) memory without bound: the host's memory limit must stop it.
use testkit::{Context, ConnectorError, SiteHealth};
struct Hog;
impl testkit::Fake for Hog {
    const NAME: &'static str = "hog";
    const VERSION: &'static str = "1.0.0";
    fn health(_ctx: Context) -> Result<SiteHealth, ConnectorError> {
        let mut kept: Vec<Vec<u8>> = Vec::new();
        loop {
            kept.push(std::hint::black_box(vec![0xA5u8; 1 << 20]));
        }
    }
}
testkit::export!(Hog);
