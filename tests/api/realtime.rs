//! The WebSocket API: frames, topics and their permissions, replay, presence, slow readers.

use std::time::Duration;

use serde_json::json;

use crate::helpers::spawn_app;
use crate::socket::seqs;

#[actix_web::test]
async fn a_new_message_reaches_an_agent_and_a_supervisor_on_the_case_topic() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let supervisor = app.create_user("supervisor").await;
    let case_id = app
        .create_case(&agent.token, json!({"channel": "chat"}))
        .await
        .id();
    let topic = format!("case:{case_id}");

    let mut agent_socket = app.socket(&agent.token).await;
    let mut supervisor_socket = app.socket(&supervisor.token).await;
    let subscribed = agent_socket.subscribe(&topic, None).await;
    assert_eq!(subscribed["type"], "subscribed", "{subscribed}");
    assert_eq!(subscribed["seq"], 1, "the case.created event is seq 1");
    assert_eq!(subscribed["recovered"], true);
    supervisor_socket.subscribe(&topic, None).await;

    let posted = app
        .post(
            "/api/v1/communications",
            &agent.token,
            json!({"case_id": case_id, "direction": "inbound", "body": "I need help"}),
        )
        .await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    for socket in [&mut agent_socket, &mut supervisor_socket] {
        let event = socket.events(&topic, 1).await.remove(0);
        assert_eq!(event["event"], "message.received");
        assert_eq!(event["seq"], 2);
        assert_eq!(event["data"]["body"], "I need help");
        assert_eq!(event["data"]["id"], posted.id());
        assert_eq!(event["actor"], agent.id);
    }
}

#[actix_web::test]
async fn subscribe_with_since_replays_the_log_then_goes_live() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let case_id = app
        .create_case(&agent.token, json!({"channel": "sms"}))
        .await
        .id();
    for i in 0..5 {
        let resp = app
            .put(
                &format!("/api/v1/cases/{case_id}"),
                &agent.token,
                json!({"title": format!("t{i}")}),
            )
            .await;
        assert_eq!(resp.status, 200);
    }
    let topic = format!("case:{case_id}");
    let mut socket = app.socket(&agent.token).await;
    let subscribed = socket.subscribe(&topic, Some(2)).await;
    assert_eq!(subscribed["seq"], 6);
    let replayed = socket.events(&topic, 4).await;
    assert_eq!(seqs(&replayed), vec![3, 4, 5, 6]);
    app.put(
        &format!("/api/v1/cases/{case_id}"),
        &agent.token,
        json!({"title": "live"}),
    )
    .await;
    let live = socket.events(&topic, 1).await;
    assert_eq!(seqs(&live), vec![7]);
    assert_eq!(live[0]["data"]["title"], "live");
    assert_eq!(live[0]["changes"]["title"]["to"], "live");
    socket.expect_no_event(Duration::from_millis(300)).await;
}
