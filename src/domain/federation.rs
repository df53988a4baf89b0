//! Workload identity federation: external issuers whose tokens keygate trusts (GitHub
//! Actions, GitLab CI, a Kubernetes cluster, SPIFFE), and an account's federated credentials:
//! the subject and claims such a token must carry to stand in for that account.

use serde_json::{Value, json};

use super::ValidationError;

/// Conditions a federated credential may hold.
pub const MAX_CONDITIONS: usize = 20;

/// A trusted external issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIssuer {
    /// keygate's id of it.
    pub id: String,
    /// A name for people, unique.
    pub name: String,
    /// The platform's issuer URL, compared exactly with a token's `iss`.
    pub issuer: String,
    /// Where its keys are; `None`: from its OpenID discovery document.
    pub jwks_uri: Option<String>,
    /// What a token's `aud` must contain; `None`: keygate's issuer URL.
    pub audience: Option<String>,
    /// Added (epoch ms).
    pub created_at: i64,
    /// Last changed (epoch ms).
    pub updated_at: i64,
}

/// How a claim must look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Exactly this value.
    Equals(String),
    /// A glob: `*` any run of characters, `?` one character.
    Matches(String),
}

/// One claim's rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The claim's name (top-level, or a dotted path into objects).
    pub claim: String,
    /// Its rule.
    pub rule: Rule,
}

/// A federated credential of an account: a token of `trusted_issuer` whose `sub` is
/// `subject` (if set) and whose claims meet every condition stands in for the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatedCredential {
    /// Its id.
    pub id: String,
    /// The account.
    pub account_id: String,
    /// The trusted issuer's id.
    pub trusted_issuer_id: String,
    /// The exact `sub`, if required.
    pub subject: Option<String>,
    /// Claims that must hold.
    pub conditions: Vec<Condition>,
    /// Added (epoch ms).
    pub created_at: i64,
}

impl FederatedCredential {
    /// Whether verified `claims` meet the subject and every condition.
    pub fn accepts(&self, claims: &Value) -> bool {
        let subject_ok = self
            .subject
            .as_deref()
            .is_none_or(|s| claims.get("sub").and_then(Value::as_str) == Some(s));
        subject_ok && self.conditions.iter().all(|c| c.holds(claims))
    }
}

impl Condition {
    /// Whether `claims` meet this condition (a missing claim never does).
    pub fn holds(&self, claims: &Value) -> bool {
        let Some(value) = claim_text(claims, &self.claim) else {
            return false;
        };
        match &self.rule {
            Rule::Equals(want) => value == *want,
            Rule::Matches(glob) => glob_matches(glob, &value),
        }
    }

    /// As the API shows it: `{claim, equals}` or `{claim, matches}`.
    pub fn to_json(&self) -> Value {
        match &self.rule {
            Rule::Equals(v) => json!({"claim": self.claim, "equals": v}),
            Rule::Matches(v) => json!({"claim": self.claim, "matches": v}),
        }
    }
}

/// A claim as text: a string as is, a number or boolean written out. A dotted name looks
/// into objects when no claim has that exact name, and keys may hold dots themselves
/// (Kubernetes nests its claims under `kubernetes.io`: `kubernetes.io.namespace`).
fn claim_text(claims: &Value, name: &str) -> Option<String> {
    match lookup(claims, name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn lookup<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    if let Some(found) = v.get(name) {
        return Some(found);
    }
    name.match_indices('.').find_map(|(i, _)| {
        let (key, rest) = (&name[..i], &name[i + 1..]);
        v.get(key).and_then(|inner| lookup(inner, rest))
    })
}

/// Whether `text` matches `glob` (`*` any run of characters, `?` exactly one; everything
/// else literal), by characters, in linear time.
pub fn glob_matches(glob: &str, text: &str) -> bool {
    let p: Vec<char> = glob.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A name for a trusted issuer: 1 to 100 characters, trimmed.
pub fn parse_name(name: &str) -> Result<String, ValidationError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ValidationError::new(
            "name",
            "Name is required, at most 100 characters.",
        ));
    }
    Ok(name.to_owned())
}

/// An `http` or `https` URL with a host, at most 2,000 characters, no spaces; kept as given
/// (an issuer is compared exactly). Anything else: an error naming `field`.
pub fn parse_url(field: &'static str, url: &str) -> Result<String, ValidationError> {
    let url = url.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
    match host {
        Some(h) if !h.is_empty() && url.len() <= 2000 && !url.contains(char::is_whitespace) => {
            Ok(url.to_owned())
        }
        _ => Err(ValidationError::new(
            field,
            format!("{field} must be an http or https URL (https advised)"),
        )),
    }
}

/// An audience: a non-empty string of at most 1,000 characters.
pub fn parse_audience(audience: &str) -> Result<String, ValidationError> {
    let a = audience.trim();
    if a.is_empty() || a.len() > 1000 {
        return Err(ValidationError::new(
            "audience",
            "audience must be a non-empty string of at most 1000 characters",
        ));
    }
    Ok(a.to_owned())
}

/// A credential's subject and conditions from their JSON forms: at least one of them; each
/// condition `{claim, equals}` or `{claim, matches}`.
pub fn parse_rules(
    subject: Option<&str>,
    conditions: Option<&Value>,
) -> Result<(Option<String>, Vec<Condition>), ValidationError> {
    let subject = match subject.map(str::trim) {
        None => None,
        Some("") => None,
        Some(s) if s.len() > 1000 => {
            return Err(ValidationError::new(
                "subject",
                "subject is at most 1000 characters",
            ));
        }
        Some(s) => Some(s.to_owned()),
    };
    let list = match conditions {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().map(parse_condition).collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(ValidationError::new(
                "conditions",
                "conditions must be an array of {claim, equals | matches}",
            ));
        }
    };
    if list.len() > MAX_CONDITIONS {
        return Err(ValidationError::new(
            "conditions",
            format!("at most {MAX_CONDITIONS} conditions"),
        ));
    }
    if subject.is_none() && list.is_empty() {
        return Err(ValidationError::new(
            "subject",
            "give a subject, conditions, or both: a credential that matches every token of \
             an issuer is not allowed",
        ));
    }
    Ok((subject, list))
}

fn parse_condition(v: &Value) -> Result<Condition, ValidationError> {
    let bad = |m: &str| ValidationError::new("conditions", m.to_owned());
    let obj = v
        .as_object()
        .ok_or_else(|| bad("each condition is an object {claim, equals | matches}"))?;
    if obj
        .keys()
        .any(|k| !matches!(k.as_str(), "claim" | "equals" | "matches"))
    {
        return Err(bad(
            "a condition has only claim and one of equals or matches",
        ));
    }
    let claim = obj
        .get("claim")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|c| !c.is_empty() && c.len() <= 200)
        .ok_or_else(|| bad("each condition names its claim (1 to 200 characters)"))?;
    let text = |k: &str| -> Result<Option<String>, ValidationError> {
        match obj.get(k) {
            None => Ok(None),
            Some(Value::String(s)) if s.len() <= 1000 => Ok(Some(s.clone())),
            Some(_) => Err(bad(&format!(
                "{k} must be a string of at most 1000 characters"
            ))),
        }
    };
    let rule = match (text("equals")?, text("matches")?) {
        (Some(e), None) => Rule::Equals(e),
        (None, Some(m)) => Rule::Matches(m),
        _ => return Err(bad("each condition has exactly one of equals or matches")),
    };
    Ok(Condition {
        claim: claim.to_owned(),
        rule,
    })
}

/// Conditions as stored (a JSON array).
pub fn conditions_json(list: &[Condition]) -> Value {
    Value::Array(list.iter().map(Condition::to_json).collect())
}

/// Conditions from their stored JSON; `None` if it is not what [`conditions_json`] writes.
pub fn conditions_from_json(text: &str) -> Option<Vec<Condition>> {
    let v: Value = serde_json::from_str(text).ok()?;
    v.as_array()?
        .iter()
        .map(|c| parse_condition(c).ok())
        .collect()
}

/// A preset for the console: a platform's issuer (empty where it differs per installation)
/// and the claims its tokens are usually matched by.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// Short id (`github`, `gitlab`, `kubernetes`, `spiffe`).
    pub id: &'static str,
    /// For people.
    pub label: &'static str,
    /// The issuer URL, or "" when each installation has its own.
    pub issuer: &'static str,
    /// A subject example.
    pub subject: &'static str,
    /// Conditions, as `(claim, rule, value)` with rule `equals` or `matches`.
    pub conditions: &'static [(&'static str, &'static str, &'static str)],
}

/// The console's presets.
pub const PRESETS: [Preset; 4] = [
    Preset {
        id: "github",
        label: "GitHub Actions",
        issuer: "https://token.actions.githubusercontent.com",
        subject: "",
        conditions: &[
            ("repository", "equals", "acme/app"),
            ("ref", "matches", "refs/heads/release/*"),
        ],
    },
    Preset {
        id: "gitlab",
        label: "GitLab CI",
        issuer: "https://gitlab.com",
        subject: "",
        conditions: &[
            ("project_path", "equals", "acme/app"),
            ("ref", "equals", "main"),
        ],
    },
    Preset {
        id: "kubernetes",
        label: "Kubernetes",
        issuer: "",
        subject: "system:serviceaccount:ci:deployer",
        conditions: &[],
    },
    Preset {
        id: "spiffe",
        label: "SPIFFE JWT-SVID",
        issuer: "",
        subject: "spiffe://example.org/ns/ci/sa/deployer",
        conditions: &[],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_runs_and_single_characters() {
        assert!(glob_matches(
            "refs/heads/release/*",
            "refs/heads/release/1.2"
        ));
        assert!(!glob_matches("refs/heads/release/*", "refs/heads/main"));
        assert!(glob_matches("v?.*", "v1.20"));
        assert!(!glob_matches("v?", "v10"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("a*b*c", "aXXbYYc"));
        assert!(!glob_matches("a*b*c", "aXXbYY"));
        assert!(glob_matches("exact", "exact"));
    }

    #[test]
    fn a_credential_needs_its_subject_and_every_condition() {
        let (subject, conditions) = parse_rules(
            None,
            Some(&json!([
                {"claim": "repository", "equals": "acme/app"},
                {"claim": "ref", "matches": "refs/heads/release/*"},
            ])),
        )
        .unwrap();
        let c = FederatedCredential {
            id: "f".into(),
            account_id: "a".into(),
            trusted_issuer_id: "i".into(),
            subject,
            conditions,
            created_at: 0,
        };
        let good = json!({"sub": "repo:acme/app", "repository": "acme/app", "ref": "refs/heads/release/2"});
        assert!(c.accepts(&good));
        let mut wrong = good.clone();
        wrong["ref"] = "refs/heads/main".into();
        assert!(!c.accepts(&wrong));
        let mut missing = good.clone();
        missing.as_object_mut().unwrap().remove("repository");
        assert!(!c.accepts(&missing));
    }

    #[test]
    fn nested_claims_are_reached_by_a_dotted_name() {
        let claims = json!({"kubernetes.io": {"namespace": "ci"}, "a.b": "flat"});
        assert_eq!(claim_text(&claims, "kubernetes.io"), None);
        assert_eq!(
            claim_text(&claims, "kubernetes.io.namespace").as_deref(),
            Some("ci")
        );
        assert_eq!(claim_text(&claims, "a.b").as_deref(), Some("flat"));
        let claims = json!({"kubernetes": {"namespace": "ci"}});
        assert_eq!(
            claim_text(&claims, "kubernetes.namespace").as_deref(),
            Some("ci")
        );
    }

    #[test]
    fn rules_need_a_subject_or_conditions_and_well_formed_ones() {
        assert_eq!(parse_rules(None, None).unwrap_err().field, "subject");
        assert!(parse_rules(Some("x"), None).is_ok());
        for bad in [
            json!({"claim": "a"}),
            json!({"claim": "a", "equals": "x", "matches": "y"}),
            json!({"equals": "x"}),
            json!({"claim": "a", "equals": 3}),
            json!({"claim": "a", "equals": "x", "other": 1}),
        ] {
            assert_eq!(
                parse_rules(None, Some(&json!([bad]))).unwrap_err().field,
                "conditions"
            );
        }
    }

    #[test]
    fn urls_must_be_http_or_https_with_a_host() {
        assert!(parse_url("issuer", "https://token.actions.githubusercontent.com").is_ok());
        assert!(parse_url("issuer", "http://127.0.0.1:8080/issuer").is_ok());
        for bad in [
            "ftp://x",
            "https://",
            "file:///etc/passwd",
            "x",
            "https://a b",
        ] {
            assert_eq!(parse_url("jwks_uri", bad).unwrap_err().field, "jwks_uri");
        }
    }

    #[test]
    fn stored_conditions_read_back() {
        let (_, list) =
            parse_rules(None, Some(&json!([{"claim": "ref", "matches": "refs/*"}]))).unwrap();
        let text = conditions_json(&list).to_string();
        assert_eq!(conditions_from_json(&text).unwrap(), list);
    }
}
