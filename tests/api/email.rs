//! Email over real SMTP: outbound messages to clients, assignment and escalation notices.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{ReservedPort, Resp, TestApp, TestUser, spawn_app_with};
use crate::receivers::{Mail, SmtpSink};

/// How long to wait for an expected email.
const ARRIVAL: Duration = Duration::from_secs(10);
/// How long to watch for emails that must not come.
const QUIET: Duration = Duration::from_millis(800);

/// A server that sends its email to `sink`, with `configure` applied on top.
async fn app_mailing_to(
    sink: &SmtpSink,
    configure: impl FnOnce(&mut helpline::Settings),
) -> TestApp {
    let url = sink.url();
    spawn_app_with(|settings| {
        settings.smtp_url = Some(url);
        configure(settings);
    })
    .await
}

async fn create_client(app: &TestApp, email: Option<&str>) -> i64 {
    let mut body = json!({"name": "Amina"});
    if let Some(email) = email {
        body["email"] = json!(email);
    }
    let created = app.post("/api/v1/clients", &app.admin.token, body).await;
    assert_eq!(created.status, 201, "create client: {}", created.body);
    created.id()
}

/// A case on the email channel about `client`.
async fn email_case(app: &TestApp, client: i64) -> i64 {
    app.create_case(
        &app.admin.token,
        json!({"client_id": client, "channel": "email"}),
    )
    .await
    .id()
}

async fn post_message(app: &TestApp, body: Value) -> Resp {
    let posted = app
        .post("/api/v1/communications", &app.admin.token, body)
        .await;
    assert_eq!(posted.status, 201, "post message: {}", posted.body);
    posted
}

async fn message_status(app: &TestApp, id: i64) -> String {
    let read = app
        .get(&format!("/api/v1/communications/{id}"), &app.admin.token)
        .await;
    assert_eq!(read.status, 200, "read message: {}", read.body);
    read.data()["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Polls the message until its status is `expected` (about 10 s at most); asserts it got there.
async fn wait_for_status(app: &TestApp, id: i64, expected: &str) {
    let mut status = String::new();
    for _ in 0..200 {
        status = message_status(app, id).await;
        if status == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, expected, "status of message {id}");
}

async fn update_case(app: &TestApp, token: &str, id: i64, body: Value) -> Resp {
    let updated = app.put(&format!("/api/v1/cases/{id}"), token, body).await;
    assert_eq!(updated.status, 200, "update case {id}: {}", updated.body);
    updated
}

async fn deactivate(app: &TestApp, user: &TestUser) {
    let deleted = app
        .delete(&format!("/api/v1/users/{}", user.id), &app.admin.token)
        .await;
    assert_eq!(deleted.status, 200, "deactivate user: {}", deleted.body);
}

/// Waits for exactly `n` emails: `n` arrive, and no more within `QUIET` after them.
async fn exactly(sink: &SmtpSink, n: usize) -> Vec<Mail> {
    if n > 0 {
        sink.wait_for(n, ARRIVAL).await;
    }
    tokio::time::sleep(QUIET).await;
    let mails = sink.mails();
    assert_eq!(mails.len(), n, "expected exactly {n} emails: {mails:#?}");
    mails
}

/// The value of header `name` in a message, unfolded.
fn header(mail: &Mail, name: &str) -> Option<String> {
    let head = mail.data.split("\r\n\r\n").next().unwrap_or_default();
    let mut found: Option<String> = None;
    let mut in_it = false;
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if in_it && let Some(value) = found.as_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        in_it = false;
        if found.is_none()
            && let Some((key, value)) = line.split_once(':')
            && key.eq_ignore_ascii_case(name)
        {
            found = Some(value.trim().to_string());
            in_it = true;
        }
    }
    found
}

fn subject(mail: &Mail) -> String {
    header(mail, "Subject").unwrap_or_else(|| panic!("no Subject in {}", mail.data))
}

/// The message text after the headers.
fn text(mail: &Mail) -> &str {
    mail.data
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .unwrap_or_default()
}

/// The single recipient of each mail, sorted.
fn recipients(mails: &[Mail]) -> Vec<String> {
    let mut all: Vec<String> = mails
        .iter()
        .map(|mail| {
            assert_eq!(mail.to.len(), 1, "one recipient per email: {mail:?}");
            mail.to[0].clone()
        })
        .collect();
    all.sort();
    all
}

fn sorted(addresses: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
    all.sort();
    all
}

#[actix_web::test]
async fn an_outbound_email_message_reaches_the_client_and_is_marked_sent() {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = spawn_app_with(|settings| settings.smtp_url = Some(url)).await;
    let token = app.admin.token.clone();
    let client = app
        .post(
            "/api/v1/clients",
            &token,
            json!({"name": "Amina", "email": "amina@example.org"}),
        )
        .await;
    let case = app
        .create_case(
            &token,
            json!({"client_id": client.id(), "channel": "email"}),
        )
        .await;
    let message = app
        .post(
            "/api/v1/communications",
            &token,
            json!({"case_id": case.id(), "direction": "outbound", "body": "We will call you at 5."}),
        )
        .await;
    assert_eq!(message.status, 201, "{}", message.body);
    assert_eq!(message.data()["status"], "queued");

    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails[0].to, vec!["amina@example.org".to_string()]);
    assert!(
        mails[0].data.contains("We will call you at 5."),
        "{}",
        mails[0].data
    );
    let path = format!("/api/v1/communications/{}", message.id());
    let mut status = String::new();
    for _ in 0..100 {
        status = app.get(&path, &token).await.data()["status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if status == "sent" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "sent");
}

#[actix_web::test]
async fn the_client_email_has_the_reference_subject_the_default_sender_and_comes_once() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, |_| {}).await;
    let client = create_client(&app, Some("amina@example.org")).await;
    let case = app
        .create_case(
            &app.admin.token,
            json!({"client_id": client, "channel": "email", "narrative": "NARRATIVE-7f3a"}),
        )
        .await
        .id();
    let message = post_message(
        &app,
        json!({"case_id": case, "direction": "outbound",
               "body": "Please call us back.\n.\nAsk for Lina."}),
    )
    .await;
    assert_eq!(message.data()["status"], "queued", "{}", message.body);

    let mails = exactly(&sink, 1).await;
    let mail = &mails[0];
    assert_eq!(mail.to, vec!["amina@example.org".to_string()]);
    assert_eq!(mail.from, "helpline@localhost");
    let from = header(mail, "From").expect("From header");
    assert!(
        from.contains("Helpline") && from.contains("<helpline@localhost>"),
        "From: {from}"
    );
    assert_eq!(subject(mail), format!("Your message, reference {case}"));
    assert!(text(mail).contains("Please call us back."), "{}", mail.data);
    assert!(!mail.data.contains("NARRATIVE-7f3a"), "{}", mail.data);
    wait_for_status(&app, message.id(), "sent").await;
}

#[actix_web::test]
async fn a_given_channel_and_client_win_over_the_case() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, |_| {}).await;
    let on_case = create_client(&app, Some("case-client@example.org")).await;
    let given = create_client(&app, Some("given-client@example.org")).await;
    // A phone case: an outbound message is emailed only when the message says so.
    let case = app
        .create_case(
            &app.admin.token,
            json!({"client_id": on_case, "channel": "call"}),
        )
        .await
        .id();
    let by_phone = post_message(
        &app,
        json!({"case_id": case, "direction": "outbound", "body": "Phoned back."}),
    )
    .await;
    exactly(&sink, 0).await;
    assert_eq!(message_status(&app, by_phone.id()).await, "queued");

    let emailed = post_message(
        &app,
        json!({"case_id": case, "client_id": given, "channel": "email",
               "direction": "outbound", "body": "Sent to the given client."}),
    )
    .await;
    assert_eq!(emailed.data()["status"], "queued", "{}", emailed.body);
    let to_case_client = post_message(
        &app,
        json!({"case_id": case, "channel": "email", "direction": "outbound",
               "body": "Sent to the case's client."}),
    )
    .await;
    let mails = exactly(&sink, 2).await;
    let to_given: Vec<&Mail> = mails
        .iter()
        .filter(|m| m.to == vec!["given-client@example.org".to_string()])
        .collect();
    let to_case: Vec<&Mail> = mails
        .iter()
        .filter(|m| m.to == vec!["case-client@example.org".to_string()])
        .collect();
    assert_eq!(to_given.len(), 1, "{mails:#?}");
    assert_eq!(to_case.len(), 1, "{mails:#?}");
    assert!(
        text(to_given[0]).contains("Sent to the given client."),
        "{}",
        to_given[0].data
    );
    assert!(
        text(to_case[0]).contains("Sent to the case's client."),
        "{}",
        to_case[0].data
    );
    wait_for_status(&app, emailed.id(), "sent").await;
    wait_for_status(&app, to_case_client.id(), "sent").await;
    assert_eq!(message_status(&app, by_phone.id()).await, "queued");
}

#[actix_web::test]
async fn without_a_client_address_an_outbound_email_fails_at_once_and_nothing_is_sent() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, |_| {}).await;
    let no_address = create_client(&app, None).await;
    let with_address = create_client(&app, Some("has-address@example.org")).await;
    let no_client = app
        .create_case(&app.admin.token, json!({"channel": "email"}))
        .await
        .id();
    let addressless = email_case(&app, no_address).await;
    // The case's client has an address, but the message names one without.
    let overridden = email_case(&app, with_address).await;

    let mut failed = Vec::new();
    for body in [
        json!({"case_id": no_client, "direction": "outbound", "body": "Hello"}),
        json!({"case_id": addressless, "direction": "outbound", "body": "Hello"}),
        json!({"case_id": overridden, "client_id": no_address, "direction": "outbound",
               "body": "Hello"}),
    ] {
        let posted = post_message(&app, body.clone()).await;
        assert_eq!(posted.data()["status"], "failed", "{body}: {}", posted.body);
        failed.push(posted.id());
    }
    exactly(&sink, 0).await;
    for id in failed {
        assert_eq!(message_status(&app, id).await, "failed", "message {id}");
    }
}

#[actix_web::test]
async fn inbound_internal_and_other_channel_messages_send_nothing() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, |_| {}).await;
    let client = create_client(&app, Some("amina@example.org")).await;
    let case = email_case(&app, client).await;
    for (direction, channel, status) in [
        ("inbound", None, "received"),
        ("internal", None, "received"),
        ("inbound", Some("email"), "received"),
        ("outbound", Some("sms"), "queued"),
        ("outbound", Some("whatsapp"), "queued"),
    ] {
        let mut body = json!({"case_id": case, "direction": direction, "body": "Not emailed"});
        if let Some(channel) = channel {
            body["channel"] = json!(channel);
        }
        let posted = post_message(&app, body.clone()).await;
        assert_eq!(posted.data()["status"], status, "{body}: {}", posted.body);
    }
    exactly(&sink, 0).await;

    // The mailer works: the one outbound email is the only email.
    let emailed = post_message(
        &app,
        json!({"case_id": case, "direction": "outbound", "body": "This one is emailed"}),
    )
    .await;
    let mails = exactly(&sink, 1).await;
    assert_eq!(mails[0].to, vec!["amina@example.org".to_string()]);
    assert!(text(&mails[0]).contains("This one is emailed"));
    assert!(!mails[0].data.contains("Not emailed"), "{}", mails[0].data);
    wait_for_status(&app, emailed.id(), "sent").await;
}

#[actix_web::test]
async fn an_idempotent_retry_of_an_outbound_email_sends_it_once() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, |_| {}).await;
    let client = create_client(&app, Some("amina@example.org")).await;
    let case = email_case(&app, client).await;
    let body = json!({"case_id": case, "direction": "outbound", "body": "Only once"});
    let first = app
        .post_with_key(
            "/api/v1/communications",
            &app.admin.token,
            "email-key-1",
            body.clone(),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = app
        .post_with_key(
            "/api/v1/communications",
            &app.admin.token,
            "email-key-1",
            body,
        )
        .await;
    assert!(again.status < 300, "{}: {}", again.status, again.body);
    assert_eq!(again.id(), first.id());
    let mails = exactly(&sink, 1).await;
    assert_eq!(mails[0].to, vec!["amina@example.org".to_string()]);
}

#[actix_web::test]
async fn an_assigned_user_gets_one_email_with_the_summary_and_link_but_not_the_story() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, |settings| {
        settings.public_url = Some("https://helpline.example.org".into());
        settings.mail_from = "Child Helpline <noreply@helpline.example.org>".into();
    })
    .await;
    let first = app.create_user("agent").await;
    let second = app.create_user("agent").await;
    let case = app
        .create_case(
            &app.admin.token,
            json!({
                "title": "TITLE-SECRET-91c2",
                "narrative": "NARRATIVE-SECRET-4d7e the child told us everything",
                "type": "neglect",
                "priority": "high",
                "assigned_to": first.id,
            }),
        )
        .await
        .id();
    let mails = exactly(&sink, 1).await;
    let mail = &mails[0];
    assert_eq!(mail.to, vec![first.email.clone()]);
    assert_eq!(mail.from, "noreply@helpline.example.org");
    let from = header(mail, "From").expect("From header");
    assert!(
        from.contains("noreply@helpline.example.org"),
        "From: {from}"
    );
    assert_eq!(subject(mail), format!("Case #{case} was assigned to you"));
    let body = text(mail);
    for expected in [
        "Type: neglect".to_string(),
        "Status: open".to_string(),
        "Priority: high".to_string(),
        format!("https://helpline.example.org/cases/{case}"),
    ] {
        assert!(body.contains(&expected), "{expected:?} in {}", mail.data);
    }
    for secret in ["TITLE-SECRET-91c2", "NARRATIVE-SECRET-4d7e"] {
        assert!(!mail.data.contains(secret), "{secret} in {}", mail.data);
    }

    // Reassigned: the new assignee is told, and only them.
    update_case(
        &app,
        &app.admin.token,
        case,
        json!({"assigned_to": second.id, "status": "in_progress"}),
    )
    .await;
    let mails = exactly(&sink, 2).await;
    let mail = &mails[1];
    assert_eq!(mail.to, vec![second.email.clone()]);
    assert_eq!(subject(mail), format!("Case #{case} was assigned to you"));
    assert!(text(mail).contains("Status: in_progress"), "{}", mail.data);
    assert!(
        text(mail).contains(&format!("https://helpline.example.org/cases/{case}")),
        "{}",
        mail.data
    );
    for secret in ["TITLE-SECRET-91c2", "NARRATIVE-SECRET-4d7e"] {
        assert!(!mail.data.contains(secret), "{secret} in {}", mail.data);
    }
}

#[actix_web::test]
async fn no_assignment_email_for_self_assignment_or_an_unchanged_assignee() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, |_| {}).await;
    let agent = app.create_user("agent").await;
    let other = app.create_user("agent").await;
    let supervisor = app.create_user("supervisor").await;

    // An agent takes a case themselves, at creation.
    let own = app
        .create_case(&agent.token, json!({"assigned_to": agent.id}))
        .await
        .id();
    // Someone else changes it without changing the assignee, naming the same one.
    update_case(
        &app,
        &app.admin.token,
        own,
        json!({"assigned_to": agent.id, "title": "Renamed", "priority": "high"}),
    )
    .await;
    update_case(&app, &agent.token, own, json!({"status": "in_progress"})).await;
    // An agent picks up an unassigned case; a supervisor takes one.
    let unassigned = app.create_case(&app.admin.token, json!({})).await.id();
    update_case(
        &app,
        &other.token,
        unassigned,
        json!({"assigned_to": other.id}),
    )
    .await;
    let supervised = app.create_case(&app.admin.token, json!({})).await.id();
    update_case(
        &app,
        &supervisor.token,
        supervised,
        json!({"assigned_to": supervisor.id}),
    )
    .await;
    // Unassigned again: nobody to tell.
    update_case(
        &app,
        &app.admin.token,
        unassigned,
        json!({"assigned_to": null}),
    )
    .await;
    exactly(&sink, 0).await;

    // Someone else assigns it: that is an email.
    update_case(
        &app,
        &supervisor.token,
        unassigned,
        json!({"assigned_to": agent.id}),
    )
    .await;
    let mails = exactly(&sink, 1).await;
    assert_eq!(mails[0].to, vec![agent.email.clone()]);
    assert_eq!(
        subject(&mails[0]),
        format!("Case #{unassigned} was assigned to you")
    );
}

#[actix_web::test]
async fn an_inactive_user_gets_no_assignment_email() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, |_| {}).await;
    let gone = app.create_user("agent").await;
    let active = app.create_user("agent").await;
    deactivate(&app, &gone).await;

    let created = app
        .post(
            "/api/v1/cases",
            &app.admin.token,
            json!({"title": "For someone gone", "type": "abuse", "assigned_to": gone.id}),
        )
        .await;
    assert_ne!(created.status, 201, "{}", created.body);
    let case = app.create_case(&app.admin.token, json!({})).await.id();
    let updated = app
        .put(
            &format!("/api/v1/cases/{case}"),
            &app.admin.token,
            json!({"assigned_to": gone.id}),
        )
        .await;
    assert_ne!(updated.status, 200, "{}", updated.body);
    exactly(&sink, 0).await;

    update_case(
        &app,
        &app.admin.token,
        case,
        json!({"assigned_to": active.id}),
    )
    .await;
    let mails = exactly(&sink, 1).await;
    assert_eq!(mails[0].to, vec![active.email.clone()]);
}

#[actix_web::test]
async fn a_critical_case_emails_every_active_supervisor_but_the_one_who_made_it() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, |settings| {
        settings.public_url = Some("https://helpline.example.org".into());
    })
    .await;
    let actor = app.create_user("supervisor").await;
    let second = app.create_user("supervisor").await;
    let third = app.create_user("supervisor").await;
    let gone = app.create_user("supervisor").await;
    let agent = app.create_user("agent").await;
    let _admin = app.create_user("admin").await;
    deactivate(&app, &gone).await;

    let case = app
        .create_case(
            &actor.token,
            json!({"priority": "critical", "title": "TITLE-SECRET-5b1d",
                   "narrative": "NARRATIVE-SECRET-0e9f"}),
        )
        .await
        .id();
    let mails = exactly(&sink, 2).await;
    assert_eq!(
        recipients(&mails),
        sorted(&[&second.email, &third.email]),
        "not to {} (the actor), {} (inactive), {} (agent) or admins",
        actor.email,
        gone.email,
        agent.email
    );
    for mail in &mails {
        let subject = subject(mail);
        assert!(
            subject.starts_with(&format!("Case #{case} needs a supervisor")),
            "{subject}"
        );
        let body = text(mail);
        for expected in [
            "Type:".to_string(),
            "Status: open".to_string(),
            "Priority: critical".to_string(),
            format!("https://helpline.example.org/cases/{case}"),
        ] {
            assert!(body.contains(&expected), "{expected:?} in {}", mail.data);
        }
        for secret in ["TITLE-SECRET-5b1d", "NARRATIVE-SECRET-0e9f"] {
            assert!(!mail.data.contains(secret), "{secret} in {}", mail.data);
        }
    }
}

#[actix_web::test]
async fn escalation_emails_go_out_only_on_the_change_into_it() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, |_| {}).await;
    let first = app.create_user("supervisor").await;
    let second = app.create_user("supervisor").await;
    let agent = app.create_user("agent").await;
    let everyone = sorted(&[&first.email, &second.email]);

    // An ordinary case: nobody is told; then an agent escalates it.
    let case = app
        .create_case(&app.admin.token, json!({"priority": "high"}))
        .await
        .id();
    exactly(&sink, 0).await;
    update_case(&app, &agent.token, case, json!({"status": "escalated"})).await;
    let mails = exactly(&sink, 2).await;
    assert_eq!(recipients(&mails), everyone);
    for mail in &mails {
        assert!(
            subject(mail).starts_with(&format!("Case #{case} needs a supervisor")),
            "{}",
            mail.data
        );
        assert!(text(mail).contains("Status: escalated"), "{}", mail.data);
    }
    // Later changes that keep it escalated tell nobody again.
    update_case(
        &app,
        &agent.token,
        case,
        json!({"title": "Still escalated"}),
    )
    .await;
    update_case(
        &app,
        &app.admin.token,
        case,
        json!({"status": "escalated", "priority": "medium"}),
    )
    .await;
    exactly(&sink, 2).await;

    // Created escalated, by the admin: every supervisor.
    let escalated = app
        .create_case(&app.admin.token, json!({"status": "escalated"}))
        .await
        .id();
    let mails = exactly(&sink, 4).await;
    assert_eq!(recipients(&mails[2..]), everyone);
    assert!(
        mails[2..]
            .iter()
            .all(|m| subject(m).starts_with(&format!("Case #{escalated} needs a supervisor"))),
        "{mails:#?}"
    );

    // Escalated and critical at once: still one email per supervisor.
    let both = app
        .create_case(
            &app.admin.token,
            json!({"status": "escalated", "priority": "critical"}),
        )
        .await
        .id();
    let mails = exactly(&sink, 6).await;
    assert_eq!(recipients(&mails[4..]), everyone);
    assert!(
        mails[4..]
            .iter()
            .all(|m| subject(m).starts_with(&format!("Case #{both} needs a supervisor"))),
        "{mails:#?}"
    );

    // Made critical by a supervisor: the other supervisor only; a later update tells nobody.
    let critical = app.create_case(&app.admin.token, json!({})).await.id();
    update_case(
        &app,
        &first.token,
        critical,
        json!({"priority": "critical"}),
    )
    .await;
    let mails = exactly(&sink, 7).await;
    assert_eq!(mails[6].to, vec![second.email.clone()]);
    assert!(
        subject(&mails[6]).starts_with(&format!("Case #{critical} needs a supervisor")),
        "{}",
        mails[6].data
    );
    update_case(
        &app,
        &app.admin.token,
        critical,
        json!({"status": "in_progress", "narrative": "More detail"}),
    )
    .await;
    exactly(&sink, 7).await;
}

#[actix_web::test]
async fn a_supervisor_assigned_a_critical_case_gets_both_emails() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, |_| {}).await;
    let actor = app.create_user("supervisor").await;
    let assignee = app.create_user("supervisor").await;
    let other = app.create_user("supervisor").await;

    let case = app
        .create_case(
            &actor.token,
            json!({"priority": "critical", "assigned_to": assignee.id}),
        )
        .await
        .id();
    let mails = exactly(&sink, 3).await;
    assert_eq!(
        recipients(&mails),
        sorted(&[&assignee.email, &assignee.email, &other.email])
    );
    let to_assignee: Vec<String> = mails
        .iter()
        .filter(|m| m.to == vec![assignee.email.clone()])
        .map(subject)
        .collect();
    assert_eq!(to_assignee.len(), 2, "{to_assignee:?}");
    assert!(
        to_assignee.contains(&format!("Case #{case} was assigned to you")),
        "{to_assignee:?}"
    );
    assert!(
        to_assignee
            .iter()
            .any(|s| s.starts_with(&format!("Case #{case} needs a supervisor"))),
        "{to_assignee:?}"
    );
    let to_other: Vec<&Mail> = mails
        .iter()
        .filter(|m| m.to == vec![other.email.clone()])
        .collect();
    assert_eq!(to_other.len(), 1, "{mails:#?}");
    assert!(
        subject(to_other[0]).starts_with(&format!("Case #{case} needs a supervisor")),
        "{}",
        to_other[0].data
    );
}

#[actix_web::test]
async fn an_email_waits_while_smtp_is_unreachable_and_is_sent_when_it_comes_back() {
    let port = ReservedPort::new();
    let smtp_url = format!("smtp://127.0.0.1:{}", port.port);
    let app = spawn_app_with(|settings| {
        settings.smtp_url = Some(smtp_url);
        settings.mail_retry_schedule =
            helpline::config::RetrySchedule(vec![Duration::from_millis(500); 20]);
    })
    .await;
    let client = create_client(&app, Some("amina@example.org")).await;
    let case = email_case(&app, client).await;
    let message = post_message(
        &app,
        json!({"case_id": case, "direction": "outbound", "body": "Sent in the end."}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(message_status(&app, message.id()).await, "queued");

    let sink = SmtpSink::start_on(port).await;
    let mails = sink.wait_for(1, ARRIVAL).await;
    assert_eq!(mails[0].to, vec!["amina@example.org".to_string()]);
    assert!(text(&mails[0]).contains("Sent in the end."));
    wait_for_status(&app, message.id(), "sent").await;
    exactly(&sink, 1).await;
    sink.stop();
}

#[actix_web::test]
async fn a_pending_email_survives_a_restart_and_is_sent_after_it() {
    let port = ReservedPort::new();
    let smtp_url = format!("smtp://127.0.0.1:{}", port.port);
    let mut app = spawn_app_with(|settings| {
        settings.smtp_url = Some(smtp_url);
        // Retried 3 s after a failure: the restart below falls while nothing is due, so it
        // does not race a claim in progress (an email claimed as the server stops keeps its
        // lease and would wait minutes).
        settings.mail_retry_schedule =
            helpline::config::RetrySchedule(vec![Duration::from_secs(3); 20]);
    })
    .await;
    let client = create_client(&app, Some("amina@example.org")).await;
    let agent = app.create_user("agent").await;
    let case = app
        .create_case(
            &app.admin.token,
            json!({"client_id": client, "channel": "email", "assigned_to": agent.id}),
        )
        .await
        .id();
    let message = post_message(
        &app,
        json!({"case_id": case, "direction": "outbound", "body": "Kept across a restart."}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(message_status(&app, message.id()).await, "queued");

    app.restart().await;
    assert_eq!(message_status(&app, message.id()).await, "queued");
    let sink = SmtpSink::start_on(port).await;
    let mails = exactly(&sink, 2).await;
    assert_eq!(
        recipients(&mails),
        sorted(&["amina@example.org", &agent.email])
    );
    let to_client = mails
        .iter()
        .find(|m| m.to == vec!["amina@example.org".to_string()])
        .expect("the client's email");
    assert!(text(to_client).contains("Kept across a restart."));
    wait_for_status(&app, message.id(), "sent").await;
    sink.stop();
}

#[actix_web::test]
async fn with_email_off_messages_stay_queued_and_go_out_once_it_is_on() {
    let mut app = spawn_app_with(|settings| settings.smtp_url = None).await;
    let client = create_client(&app, Some("amina@example.org")).await;
    let case = email_case(&app, client).await;
    let message = post_message(
        &app,
        json!({"case_id": case, "direction": "outbound", "body": "Waiting for email."}),
    )
    .await;
    assert_eq!(message.data()["status"], "queued", "{}", message.body);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(message_status(&app, message.id()).await, "queued");

    let sink = SmtpSink::start().await;
    app.settings.smtp_url = Some(sink.url());
    app.restart().await;
    let mails = exactly(&sink, 1).await;
    assert_eq!(mails[0].to, vec!["amina@example.org".to_string()]);
    assert!(text(&mails[0]).contains("Waiting for email."));
    wait_for_status(&app, message.id(), "sent").await;
}
