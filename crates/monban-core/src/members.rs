//! Members as provisioned by a health society, and the CSV import of them.

use crate::policy::UserIdPolicy;
use chrono::NaiveDate;
use std::fmt;

/// A member to create, as the society provides them: a temporary user ID and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMember {
    /// Lowercase.
    pub user_id: String,
    pub password: String,
    pub display_name: String,
    pub birthdate: Option<NaiveDate>,
    pub email: Option<String>,
}

/// One bad line of an import file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// 1-based line in the file (the header is line 1).
    pub line: usize,
    pub message: String,
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

pub const IMPORT_HEADER: [&str; 5] = ["user_id", "password", "display_name", "birthdate", "email"];

/// Parses a whole import file. Any bad row rejects the whole file, with every problem listed.
pub fn parse_member_csv(
    text: &str,
    policy: &UserIdPolicy,
) -> Result<Vec<NewMember>, Vec<RowProblem>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header_ok = reader
        .headers()
        .map(|h| h.iter().map(str::trim).eq(IMPORT_HEADER.iter().copied()))
        .unwrap_or(false);
    if !header_ok {
        return Err(vec![RowProblem {
            line: 1,
            message: format!("the header must be exactly: {}", IMPORT_HEADER.join(",")),
        }]);
    }
    let mut members = Vec::new();
    let mut problems = Vec::new();
    let mut seen_ids = std::collections::HashMap::new();
    let mut seen_emails = std::collections::HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map_or(0, |p| p.line() as usize);
                problems.push(RowProblem {
                    line,
                    message: format!("unreadable row: {error}"),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.len() != IMPORT_HEADER.len() {
            problems.push(RowProblem {
                line,
                message: format!(
                    "expected {} fields, found {}",
                    IMPORT_HEADER.len(),
                    record.len()
                ),
            });
            continue;
        }
        let mut complain = |message: String| problems.push(RowProblem { line, message });
        let user_id = UserIdPolicy::normalize(&record[0]);
        if user_id.is_empty() {
            complain("user_id is empty".into());
        } else if !policy.characters_allowed(&user_id) {
            complain(format!(
                "user_id \"{}\" contains characters the realm does not allow",
                &record[0]
            ));
        } else if user_id.chars().count() > 255 {
            complain("user_id is longer than 255 characters".into());
        } else if let Some(first) = seen_ids.insert(user_id.clone(), line) {
            complain(format!(
                "user_id \"{user_id}\" is already used on line {first}"
            ));
        }
        let password = record[1].to_string();
        if password.is_empty() {
            complain("password is empty".into());
        }
        let display_name = record[2].trim().to_string();
        if display_name.is_empty() {
            complain("display_name is empty".into());
        }
        let birthdate = match record[3].trim() {
            "" => None,
            text => match parse_birthdate(text) {
                Some(date) => Some(date),
                None => {
                    complain(format!(
                        "birthdate \"{text}\" is not a date written YYYY-MM-DD"
                    ));
                    None
                }
            },
        };
        let email = match record[4].trim() {
            "" => None,
            text if looks_like_email(text) => {
                let email = text.to_ascii_lowercase();
                if let Some(first) = seen_emails.insert(email.clone(), line) {
                    complain(format!("email \"{email}\" is already used on line {first}"));
                }
                Some(email)
            }
            text => {
                complain(format!("email \"{text}\" is not a valid mail address"));
                None
            }
        };
        members.push(NewMember {
            user_id,
            password,
            display_name,
            birthdate,
            email,
        });
    }
    if problems.is_empty() {
        Ok(members)
    } else {
        Err(problems)
    }
}

/// A birthdate written `YYYY-MM-DD`.
pub fn parse_birthdate(text: &str) -> Option<NaiveDate> {
    if text.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// A plausibility check for provisioning; the member-facing rules of §3.3 live with the email step.
pub fn looks_like_email(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && text.len() <= 255
        && text.chars().all(|c| c.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "user_id,password,display_name,birthdate,email\n";

    #[test]
    fn good_rows_are_parsed_and_lowercased() {
        let text = format!(
            "{HEADER}Tmp00001,Init-Pass1,山田 太郎,1979-08-22,Taro@Example.jp\ntmp00002,p,花子,,\n"
        );
        let members = parse_member_csv(&text, &UserIdPolicy::default()).unwrap();
        assert_eq!(members.len(), 2);
        assert_eq!(members[0].user_id, "tmp00001");
        assert_eq!(members[0].birthdate, NaiveDate::from_ymd_opt(1979, 8, 22));
        assert_eq!(members[0].email.as_deref(), Some("taro@example.jp"));
        assert_eq!(members[1].email, None);
    }

    #[test]
    fn every_bad_line_is_listed() {
        let text = format!(
            "{HEADER}ok000001,pw,A,1980-01-01,a@example.jp\nbad<id,pw,B,1980-13-01,b@example.jp\nOK000001,,C,19800101,not-mail\nonly,two\n"
        );
        let problems = parse_member_csv(&text, &UserIdPolicy::default()).unwrap_err();
        let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![3, 3, 4, 4, 4, 4, 5], "{problems:?}");
        assert!(problems[2].message.contains("already used on line 2"));
    }

    #[test]
    fn a_wrong_header_is_refused() {
        let problems = parse_member_csv("id,pw\nx,y\n", &UserIdPolicy::default()).unwrap_err();
        assert_eq!(problems[0].line, 1);
    }
}
