//! Single sign-on's trees: the providers (their client secrets in a tree of their own, which no listing
//! reads), the host's sign-in policy, and the reading side of the people's links to a provider's subject
//! (written with the session they open, in `write_people`).

use sled::Transactional;
use sled::transaction::TransactionalTree;

use super::codec::{decode, encode};
use super::{Store, StoreError, tx_abort_error};
use crate::domain::{SsoLink, SsoPolicy, SsoProvider, sso_link_key};

const POLICY_KEY: &[u8] = b"policy";

pub(super) struct SsoTrees {
    providers: sled::Tree,
    secrets: sled::Tree,
    policy: sled::Tree,
}

impl SsoTrees {
    pub(super) fn open(db: &sled::Db) -> Result<SsoTrees, StoreError> {
        Ok(SsoTrees {
            providers: db.open_tree("sso_providers")?,
            secrets: db.open_tree("sso_secrets")?,
            policy: db.open_tree("sso_policy")?,
        })
    }
}

impl Store {
    pub fn sso_providers(&self) -> Result<Vec<SsoProvider>, StoreError> {
        let mut providers: Vec<SsoProvider> = self
            .sso
            .providers
            .iter()
            .values()
            .map(|v| decode("SSO provider", &v?))
            .collect::<Result<_, _>>()?;
        providers.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(providers)
    }

    pub fn sso_provider(&self, id: &str) -> Result<Option<SsoProvider>, StoreError> {
        self.sso
            .providers
            .get(id.as_bytes())?
            .map(|v| decode("SSO provider", &v))
            .transpose()
    }

    pub fn sso_secret(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .sso
            .secrets
            .get(id.as_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Writes a provider and its secret together.
    pub fn put_sso_provider(&self, provider: &SsoProvider, secret: &str) -> Result<(), StoreError> {
        let bytes = encode(provider)?;
        (&self.sso.providers, &self.sso.secrets)
            .transaction(|(providers, secrets): &(TransactionalTree, TransactionalTree)| {
                providers.insert(provider.id.as_bytes(), bytes.as_slice())?;
                secrets.insert(provider.id.as_bytes(), secret.as_bytes())?;
                Ok(())
            })
            .map_err(tx_abort_error)
    }

    /// Removes a provider and its secret; its people's links stay (keyed by issuer), so adding the same
    /// issuer again finds them.
    pub fn remove_sso_provider(&self, id: &str) -> Result<(), StoreError> {
        (&self.sso.providers, &self.sso.secrets)
            .transaction(|(providers, secrets): &(TransactionalTree, TransactionalTree)| {
                providers.remove(id.as_bytes())?;
                secrets.remove(id.as_bytes())?;
                Ok(())
            })
            .map_err(tx_abort_error)
    }

    pub fn sso_policy(&self) -> Result<SsoPolicy, StoreError> {
        Ok(self
            .sso
            .policy
            .get(POLICY_KEY)?
            .map(|v| decode("sign-in policy", &v))
            .transpose()?
            .unwrap_or_default())
    }

    pub fn put_sso_policy(&self, policy: &SsoPolicy) -> Result<(), StoreError> {
        self.sso.policy.insert(POLICY_KEY, encode(policy)?)?;
        Ok(())
    }

    pub fn sso_link(&self, issuer: &str, subject: &str) -> Result<Option<SsoLink>, StoreError> {
        self.people
            .sso_links
            .get(sso_link_key(issuer, subject))?
            .map(|v| decode("SSO link", &v))
            .transpose()
    }

    /// A person's links (a host holds a few per person at most: every link is read).
    pub fn sso_links_of(&self, person_id: &str) -> Result<Vec<SsoLink>, StoreError> {
        let mut links = Vec::new();
        for value in self.people.sso_links.iter().values() {
            let link: SsoLink = decode("SSO link", &value?)?;
            if link.person_id == person_id {
                links.push(link);
            }
        }
        links.sort_by_key(|l| l.linked_at);
        Ok(links)
    }
}
