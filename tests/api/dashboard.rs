//! The dashboard's figures, computed by hand from data each test creates.

use chrono::DateTime;
use serde_json::{Value, json};

use crate::helpers::{Resp, TestApp, spawn_app};

fn millis(value: &Value) -> i64 {
    DateTime::parse_from_rfc3339(value.as_str().expect("a time"))
        .expect("RFC 3339")
        .timestamp_millis()
}

/// The average of millisecond durations, in seconds to the millisecond, as the API gives it.
fn average_seconds(durations: &[i64]) -> Value {
    if durations.is_empty() {
        return Value::Null;
    }
    let mean = durations.iter().sum::<i64>() as f64 / durations.len() as f64;
    json!(mean.round() / 1000.0)
}

async fn message(app: &TestApp, token: &str, case_id: i64, direction: &str) -> Resp {
    let posted = app
        .post(
            "/api/v1/communications",
            token,
            json!({"case_id": case_id, "direction": direction, "body": "hello", "channel": "sms"}),
        )
        .await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    posted
}

#[actix_web::test]
async fn stats_count_every_status_and_priority_today_and_average_response_and_resolution() {
    let app = spawn_app().await;
    let token = app.admin.token.clone();
    let empty = app.get("/api/v1/dashboard/stats", &token).await;
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert_eq!(empty.data()["total_cases"], 0);
    assert_eq!(
        empty.data()["by_status"],
        json!({"open": 0, "in_progress": 0, "escalated": 0, "closed": 0})
    );
    assert_eq!(empty.data()["avg_resolution_seconds"], Value::Null);

    let a = app.create_case(&token, json!({"priority": "high"})).await;
    let b = app
        .create_case(
            &token,
            json!({"priority": "critical", "status": "escalated"}),
        )
        .await;
    let c = app.create_case(&token, json!({})).await;
    let d = app.create_case(&token, json!({"priority": "low"})).await;
    let closed = app
        .put(
            &format!("/api/v1/cases/{}", a.id()),
            &token,
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(closed.status, 200);
    let first_a = message(&app, &token, a.id(), "outbound").await;
    message(&app, &token, a.id(), "outbound").await;
    message(&app, &token, b.id(), "inbound").await;
    let first_c = message(&app, &token, c.id(), "outbound").await;
    // A deleted case and its messages leave every figure.
    message(&app, &token, d.id(), "outbound").await;
    assert_eq!(
        app.delete(&format!("/api/v1/cases/{}", d.id()), &token)
            .await
            .status,
        200
    );

    let stats = app.get("/api/v1/dashboard/stats", &token).await;
    let data = stats.data();
    assert_eq!(data["total_cases"], 3);
    assert_eq!(data["open_cases"], 2);
    assert_eq!(
        data["by_status"],
        json!({"open": 1, "in_progress": 0, "escalated": 1, "closed": 1})
    );
    assert_eq!(
        data["by_priority"],
        json!({"low": 0, "medium": 1, "high": 1, "critical": 1})
    );
    assert_eq!(data["cases_today"], 3);
    assert_eq!(data["closed_today"], 1);
    assert_eq!(data["messages_today"], 4);
    assert_eq!(data["agents_online"], 0);
    let resolution = millis(&closed.data()["closed_at"]) - millis(&a.data()["created_at"]);
    assert_eq!(
        data["avg_resolution_seconds"],
        average_seconds(&[resolution])
    );
    let responses = [
        millis(&first_a.data()["created_at"]) - millis(&a.data()["created_at"]),
        millis(&first_c.data()["created_at"]) - millis(&c.data()["created_at"]),
    ];
    assert_eq!(
        data["avg_first_response_seconds"],
        average_seconds(&responses)
    );
}

#[actix_web::test]
async fn cases_by_type_is_largest_first_and_honours_the_date_filters() {
    let app = spawn_app().await;
    let token = app.admin.token.clone();
    for case_type in [
        "neglect",
        "abuse",
        "neglect",
        "counselling",
        "neglect",
        "abuse",
    ] {
        app.create_case(&token, json!({"type": case_type})).await;
    }
    let all = app.get("/api/v1/dashboard/cases-by-type", &token).await;
    assert_eq!(
        *all.data(),
        json!([
            {"type": "neglect", "count": 3},
            {"type": "abuse", "count": 2},
            {"type": "counselling", "count": 1}
        ])
    );
    let future = app
        .get(
            "/api/v1/dashboard/cases-by-type?created_after=2999-01-01",
            &token,
        )
        .await;
    assert_eq!(*future.data(), json!([]));
    let past = app
        .get(
            "/api/v1/dashboard/cases-by-type?created_before=2999-01-01&created_after=2000-01-01",
            &token,
        )
        .await;
    assert_eq!(past.data().as_array().map(Vec::len), Some(3));
    let bad = app
        .get("/api/v1/dashboard/cases-by-type?created_after=soon", &token)
        .await;
    assert_eq!(bad.status, 400);
}

#[actix_web::test]
async fn agent_performance_shows_each_agent_and_an_agent_only_their_own_row() {
    let app = spawn_app().await;
    let supervisor = app.create_user("supervisor").await;
    let amy = app.create_user("agent").await;
    let ben = app.create_user("agent").await;
    let case = app
        .create_case(&supervisor.token, json!({"assigned_to": amy.id}))
        .await;
    app.create_case(&supervisor.token, json!({"assigned_to": amy.id}))
        .await;
    let reply = message(&app, &amy.token, case.id(), "outbound").await;
    let closed = app
        .put(
            &format!("/api/v1/cases/{}", case.id()),
            &amy.token,
            json!({"status": "closed"}),
        )
        .await;
    let _socket = app.socket(&amy.token).await;

    let all = app
        .get("/api/v1/dashboard/agent-performance", &supervisor.token)
        .await;
    assert_eq!(all.status, 200, "{}", all.body);
    let rows = all.data().as_array().expect("rows").clone();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let amy_row = rows.iter().find(|r| r["agent_id"] == amy.id).expect("amy");
    assert_eq!(amy_row["cases_assigned"], 2);
    assert_eq!(amy_row["open_cases"], 1);
    assert_eq!(amy_row["cases_closed"], 1);
    assert_eq!(amy_row["messages_sent"], 1);
    let response = millis(&reply.data()["created_at"]) - millis(&case.data()["created_at"]);
    assert_eq!(
        amy_row["avg_first_response_seconds"],
        average_seconds(&[response])
    );
    let resolution = millis(&closed.data()["closed_at"]) - millis(&case.data()["created_at"]);
    assert_eq!(
        amy_row["avg_resolution_seconds"],
        average_seconds(&[resolution])
    );
    let ben_row = rows.iter().find(|r| r["agent_id"] == ben.id).expect("ben");
    assert_eq!(ben_row["cases_assigned"], 0);
    assert_eq!(ben_row["presence"], "offline");
    assert_eq!(ben_row["avg_resolution_seconds"], Value::Null);

    let own = app
        .get("/api/v1/dashboard/agent-performance", &ben.token)
        .await;
    let own_rows = own.data().as_array().expect("rows");
    assert_eq!(own_rows.len(), 1);
    assert_eq!(own_rows[0]["agent_id"], ben.id);
}

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[actix_web::test]
async fn the_live_dashboard_push_equals_get_stats_after_200_random_changes() {
    let app = crate::helpers::spawn_app_with(|settings| {
        settings.presence_grace = std::time::Duration::from_millis(100);
    })
    .await;
    let supervisor = app.create_user("supervisor").await;
    let agents = [
        app.create_user("agent").await,
        app.create_user("agent").await,
        app.create_user("agent").await,
    ];
    let mut watcher = app.socket(&supervisor.token).await;
    assert_eq!(
        watcher.subscribe("dashboard", None).await["type"],
        "subscribed"
    );
    let first = watcher.next_of("dashboard").await;
    let stats = app.get("/api/v1/dashboard/stats", &supervisor.token).await;
    assert_eq!(
        first["data"],
        *stats.data(),
        "a new subscriber gets the current object"
    );

    let mut random = Lcg(42);
    let statuses = ["open", "in_progress", "escalated", "closed"];
    let priorities = ["low", "medium", "high", "critical"];
    let mut cases: Vec<i64> = Vec::new();
    let mut sockets: Vec<Option<crate::socket::Socket>> = vec![None, None, None];
    for _ in 0..200 {
        match random.below(10) {
            0..=3 => {
                let status = statuses[random.below(3) as usize];
                let priority = priorities[random.below(4) as usize];
                let case = app
                    .create_case(
                        &supervisor.token,
                        json!({"status": status, "priority": priority}),
                    )
                    .await;
                cases.push(case.id());
            }
            4..=5 if !cases.is_empty() => {
                let id = cases[random.below(cases.len() as u64) as usize];
                let status = statuses[random.below(4) as usize];
                let priority = priorities[random.below(4) as usize];
                app.put(
                    &format!("/api/v1/cases/{id}"),
                    &supervisor.token,
                    json!({"status": status, "priority": priority}),
                )
                .await;
            }
            6 if !cases.is_empty() => {
                let id = cases[random.below(cases.len() as u64) as usize];
                let direction = ["inbound", "outbound"][random.below(2) as usize];
                message(&app, &supervisor.token, id, direction).await;
            }
            7 if !cases.is_empty() => {
                let id = cases[random.below(cases.len() as u64) as usize];
                app.put(
                    &format!("/api/v1/cases/{id}"),
                    &supervisor.token,
                    json!({"status": "closed"}),
                )
                .await;
            }
            _ => {
                let which = random.below(3) as usize;
                match sockets[which].take() {
                    Some(socket) => socket.close().await,
                    None => {
                        let mut socket = app.socket(&agents[which].token).await;
                        if random.below(2) == 0 {
                            socket
                                .send(json!({"type": "presence", "status": "away"}))
                                .await;
                        }
                        sockets[which] = Some(socket);
                    }
                }
            }
        }
    }
    // Let presence settle (grace period), then read pushes until they stop.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mut last = None;
    while let Some(frame) = watcher
        .next_within(std::time::Duration::from_millis(1500))
        .await
    {
        if frame["type"] == "dashboard" {
            last = Some(frame);
        }
    }
    let last = last.expect("the dashboard was pushed after the changes");
    let stats = app.get("/api/v1/dashboard/stats", &supervisor.token).await;
    assert_eq!(last["data"], *stats.data());
    let online = sockets.iter().filter(|s| s.is_some()).count();
    assert_eq!(stats.data()["agents_online"], online);
}

/// What the test knows of one case, to compute the stats by hand.
struct ModelCase {
    id: i64,
    status: String,
    priority: String,
    created_at: i64,
    closed_at: Option<i64>,
    first_response_at: Option<i64>,
    messages: usize,
}

impl ModelCase {
    fn from(case: &Value, first_response_at: Option<i64>, messages: usize) -> ModelCase {
        ModelCase {
            id: case["id"].as_i64().expect("id"),
            status: case["status"].as_str().expect("status").to_string(),
            priority: case["priority"].as_str().expect("priority").to_string(),
            created_at: millis(&case["created_at"]),
            closed_at: case["closed_at"]
                .as_str()
                .map(|_| millis(&case["closed_at"])),
            first_response_at,
            messages,
        }
    }
}

/// The stats that `cases` should give (everything was created today).
fn expected_stats(cases: &[ModelCase]) -> Value {
    let count = |f: &dyn Fn(&ModelCase) -> bool| cases.iter().filter(|c| f(c)).count();
    let by_status: serde_json::Map<String, Value> = ["open", "in_progress", "escalated", "closed"]
        .iter()
        .map(|s| (s.to_string(), json!(count(&|c| c.status == *s))))
        .collect();
    let by_priority: serde_json::Map<String, Value> = ["low", "medium", "high", "critical"]
        .iter()
        .map(|p| (p.to_string(), json!(count(&|c| c.priority == *p))))
        .collect();
    let closed: Vec<&ModelCase> = cases.iter().filter(|c| c.status == "closed").collect();
    let resolutions: Vec<i64> = closed
        .iter()
        .map(|c| c.closed_at.expect("closed_at") - c.created_at)
        .collect();
    let responses: Vec<i64> = cases
        .iter()
        .filter_map(|c| c.first_response_at.map(|at| at - c.created_at))
        .collect();
    json!({
        "total_cases": cases.len(),
        "open_cases": cases.len() - closed.len(),
        "by_status": by_status,
        "by_priority": by_priority,
        "cases_today": cases.len(),
        "closed_today": closed.len(),
        "messages_today": cases.iter().map(|c| c.messages).sum::<usize>(),
        "agents_online": 0,
        "avg_first_response_seconds": average_seconds(&responses),
        "avg_resolution_seconds": average_seconds(&resolutions),
    })
}

#[actix_web::test]
async fn stats_equal_figures_computed_from_the_cases_after_random_changes_and_a_restart() {
    let mut app = spawn_app().await;
    let token = app.admin.token.clone();
    let statuses = ["open", "in_progress", "escalated", "closed"];
    let priorities = ["low", "medium", "high", "critical"];
    let mut random = Lcg(7);
    let mut cases: Vec<ModelCase> = Vec::new();
    for step in 0..150 {
        let pick = |random: &mut Lcg, len: usize| random.below(len as u64) as usize;
        match random.below(10) {
            0..=2 => {
                let body = json!({
                    "status": statuses[pick(&mut random, 4)],
                    "priority": priorities[pick(&mut random, 4)],
                });
                let created = app.create_case(&token, body).await;
                cases.push(ModelCase::from(created.data(), None, 0));
            }
            3..=5 if !cases.is_empty() => {
                // Status and priority changes move a case (and its first response and
                // resolution) between tallies; reopening drops its resolution.
                let i = pick(&mut random, cases.len());
                let body = json!({
                    "status": statuses[pick(&mut random, 4)],
                    "priority": priorities[pick(&mut random, 4)],
                });
                let updated = app
                    .put(&format!("/api/v1/cases/{}", cases[i].id), &token, body)
                    .await;
                assert_eq!(updated.status, 200, "step {step}: {}", updated.body);
                let (first, messages) = (cases[i].first_response_at, cases[i].messages);
                cases[i] = ModelCase::from(updated.data(), first, messages);
            }
            6..=8 if !cases.is_empty() => {
                let i = pick(&mut random, cases.len());
                let direction = ["inbound", "outbound"][pick(&mut random, 2)];
                let posted = message(&app, &token, cases[i].id, direction).await;
                cases[i].messages += 1;
                if direction == "outbound" && cases[i].first_response_at.is_none() {
                    cases[i].first_response_at = Some(millis(&posted.data()["created_at"]));
                }
            }
            9 if !cases.is_empty() => {
                let case = cases.swap_remove(pick(&mut random, cases.len()));
                let deleted = app
                    .delete(&format!("/api/v1/cases/{}", case.id), &token)
                    .await;
                assert_eq!(deleted.status, 200, "step {step}: {}", deleted.body);
            }
            _ => {}
        }
    }
    let expected = expected_stats(&cases);
    let stats = app.get("/api/v1/dashboard/stats", &token).await;
    assert_eq!(*stats.data(), expected);

    // A list filtered on status and priority alone is counted from the same tallies.
    let filters: [(&str, &[&str], &[&str]); 4] = [
        (
            "status=open,closed&priority=high",
            &["open", "closed"],
            &["high"],
        ),
        ("priority=low", &statuses, &["low"]),
        ("status=escalated", &["escalated"], &priorities),
        ("", &statuses, &priorities),
    ];
    for (query, wanted_statuses, wanted_priorities) in filters {
        let expected_total = cases
            .iter()
            .filter(|c| wanted_statuses.contains(&c.status.as_str()))
            .filter(|c| wanted_priorities.contains(&c.priority.as_str()))
            .count();
        let listed = app.get(&format!("/api/v1/cases?{query}"), &token).await;
        assert_eq!(
            listed.body["pagination"]["total"], expected_total,
            "{query}"
        );
    }

    app.restart().await;
    let stats = app.get("/api/v1/dashboard/stats", &token).await;
    assert_eq!(*stats.data(), expected, "the same after a restart");
}

#[actix_web::test]
async fn cases_moving_between_priorities_in_both_directions_at_once_all_succeed() {
    // On PostgreSQL each move locks two tally rows; opposite moves must not deadlock.
    let app = spawn_app().await;
    let token = app.admin.token.clone();
    let mut cases = Vec::new();
    for n in 0..40 {
        let priority = if n % 2 == 0 { "low" } else { "high" };
        cases.push((
            app.create_case(&token, json!({"priority": priority}))
                .await
                .id(),
            n,
        ));
    }
    for round in 0..3 {
        let moves = cases.iter().map(|(id, n)| {
            let to = if (n + round) % 2 == 0 { "high" } else { "low" };
            let (app, token) = (&app, &token);
            async move {
                app.put(
                    &format!("/api/v1/cases/{id}"),
                    token,
                    json!({"priority": to}),
                )
                .await
            }
        });
        for moved in futures_util::future::join_all(moves).await {
            assert_eq!(moved.status, 200, "round {round}: {}", moved.body);
        }
    }
    let stats = app.get("/api/v1/dashboard/stats", &token).await;
    assert_eq!(
        stats.data()["by_priority"],
        json!({"low": 20, "medium": 0, "high": 20, "critical": 0})
    );
}

#[actix_web::test]
async fn unknown_parameters_and_bad_dates_on_the_dashboard_are_400_with_the_field() {
    let app = spawn_app().await;
    let token = app.admin.token.clone();
    for (path, field) in [
        ("/api/v1/dashboard/stats?x=1", "x"),
        (
            "/api/v1/dashboard/agent-performance?created_after=soon",
            "created_after",
        ),
        (
            "/api/v1/dashboard/agent-performance?created_before=2026-13-01",
            "created_before",
        ),
        (
            "/api/v1/dashboard/cases-by-type?created_after=soon",
            "created_after",
        ),
    ] {
        let resp = app.get(path, &token).await;
        crate::helpers::assert_invalid(&resp, field, path);
    }
}
