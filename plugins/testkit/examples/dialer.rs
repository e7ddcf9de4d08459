//! Declares only 127.0.0.1, then `validate-site` dials the `declared_url` and the `undeclared_url`
//! settings and reports what happened to each.
use testkit::{Context, ConnectorError, SiteInfo, get, setting};
struct Dialer;
impl testkit::Fake for Dialer {
    const NAME: &'static str = "dialer";
    const VERSION: &'static str = "1.0.0";
    fn validate_site(ctx: Context) -> Result<SiteInfo, ConnectorError> {
        let mut details = Vec::new();
        for key in ["declared_url", "undeclared_url"] {
            let url = setting(&ctx, key).ok_or_else(|| ConnectorError::InvalidConfig(format!("{key} is not set")))?;
            let outcome = match get(&url) {
                Ok(response) => format!("status {}", response.status),
                Err(ConnectorError::Rejected(why)) => why,
                Err(other) => format!("{other:?}"),
            };
            details.push((key.to_string(), outcome));
        }
        Ok(SiteInfo { practice_name: "dialer".into(), availability: "online".into(), version: None, details })
    }
}
testkit::export!(Dialer);
