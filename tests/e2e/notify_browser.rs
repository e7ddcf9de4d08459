//! The rep's side of mail in a real Chromium, at phone width: book, find the confirmation email on the real
//! SMTP server, open its link, press the button and see the visit confirmed; lose the manage link and get
//! fresh ones by "email me my visits" (the old link stops working; the answer is the same for an address
//! with no visits; the route is limited per recipient). axe-core checks each new page state.

use crate::support::booking::*;
use crate::support::browser::Browser;
use crate::support::smtp::{Smtp, Tls, with_subject};
use crate::support::{Server, env_refs, local_date_in};

use std::time::Duration;

use serde_json::json;

const ENTER: &str = "\u{e007}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_browser_rep_confirms_by_the_mailed_link_and_recovers_a_lost_link() {
    let smtp = Smtp::start(Tls::Starttls).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = smtp.env(100);
    env.extend(ROOMY_LIMITS.iter().map(|(k, v)| (*k, v.to_string())));
    let server = Server::start_with_env(dir.path(), &env_refs(&env)).await;
    // The links in the mail point where reps reach the server: here, its own address.
    let c = clinic(&server, "Australia/Adelaide", "SA").await;
    let day = local_date_in("Australia/Adelaide", 5);
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "10:00", "end": "11:00", "practitioner_id": c.ana}),
    )
    .await;
    let link = link(&server, &c.id, "Reps", &[]).await;

    let phone = Browser::start(390, 844).await;
    phone.goto(&format!("{}{link}", server.base)).await;
    phone
        .until("slot buttons", "document.querySelectorAll('button.slot').length")
        .await;
    phone
        .js("const b = document.querySelector('button.slot'); b.focus(); b.click(); return 1;")
        .await;
    phone
        .until("the details form", "!document.getElementById('details').hidden")
        .await;
    phone.click("#rep-name").await;
    phone
        .keys("Mia Tran\u{e004}Acme Pharma\u{e004}Mia.Tran@Acme.test")
        .await;
    phone.keys(ENTER).await;
    phone
        .until("the answer", "!document.getElementById('done').hidden")
        .await;
    assert_eq!(phone.text("done-heading").await, "Check your email to confirm");
    let summary = phone.text("done-summary").await;
    assert!(
        summary.contains("Mia.Tran@acme.test") && summary.contains("held for you"),
        "{summary}"
    );
    phone.assert_accessible("the booking page, waiting for the email").await;
    phone.screenshot("notify-1-check-your-email").await;

    // The email, as the rep's mail program has it.
    let mail = smtp.wait_for(1, Duration::from_secs(30)).await;
    let confirm = mail[0].link("/confirm/").expect("the confirmation link");
    assert!(confirm.starts_with(&server.base), "{confirm}");
    phone.goto(&confirm).await;
    phone
        .until("the held visit", "document.getElementById('when').textContent.length")
        .await;
    assert!(phone.text("who").await.contains("Mia Tran"));
    phone.assert_accessible("the confirmation page").await;
    phone.screenshot("notify-2-confirm").await;
    phone.click("#confirm-button").await;
    phone
        .until("the confirmed visit", "!document.getElementById('confirmed').hidden")
        .await;
    assert_eq!(phone.text("confirmed-heading").await, "Confirmed: your visit is booked");
    assert!(phone.text("confirmed-summary").await.contains("with Dr Ana Ng"));
    phone.assert_accessible("the confirmed visit").await;
    phone.screenshot("notify-3-confirmed").await;
    let first_manage = phone
        .js("return document.getElementById('manage-link').href;")
        .await
        .as_str()
        .unwrap()
        .to_string();
    // Opening the same link again shows it is done, with nothing to press.
    phone.goto(&confirm).await;
    phone
        .until("the note", "document.getElementById('hold-note').textContent.length")
        .await;
    assert!(
        phone.text("hold-note").await.contains("already confirmed"),
        "{}",
        phone.text("hold-note").await
    );
    assert!(!phone.visible("confirm-button").await);

    // The manage link is lost: the booking page sends fresh ones to the address.
    let booked = smtp.wait_for(2, Duration::from_secs(30)).await;
    assert_eq!(with_subject(&booked, "Booked: ").len(), 1);
    phone.goto(&format!("{}{link}", server.base)).await;
    phone
        .until(
            "the recovery form",
            "document.getElementById('recover-email') && !document.getElementById('recover').hidden",
        )
        .await;
    phone.click("#recover-email").await;
    phone.keys("mia.tran@acme.test").await;
    phone.click("#recover-button").await;
    phone
        .until(
            "the answer beside the form",
            "document.getElementById('recover-answer').textContent.includes('on its way')",
        )
        .await;
    phone
        .assert_accessible("the booking page after 'email me my visits'")
        .await;
    phone.screenshot("notify-4-recover").await;
    let mail = smtp.wait_for(3, Duration::from_secs(30)).await;
    let recovery = with_subject(&mail, "Your rep visits at ");
    assert_eq!(recovery.len(), 1);
    assert_eq!(
        recovery[0].to(),
        ["Mia.Tran@acme.test"],
        "sent to the address the visit was booked with"
    );
    let fresh = recovery[0].link("/manage/").expect("a fresh manage link");
    assert_ne!(fresh, first_manage);
    let path = |url: &str| url.strip_prefix(&server.base).unwrap().to_string();
    let (status, _) = public_get(&server, &format!("{}/booking", path(&first_manage))).await;
    assert_eq!(status, 404, "the old link stops working");
    let (status, visit) = public_get(&server, &format!("{}/booking", path(&fresh))).await;
    assert_eq!(status, 200, "{visit}");
    assert_eq!(visit["status"], "booked");

    // An address with no visits gets the same answer and no mail; asking again and again is limited.
    let (status, unknown) = public_post(
        &server,
        &format!("{link}/recover"),
        json!({"email": "nobody@acme.test"}),
    )
    .await;
    assert_eq!(status, 202, "{unknown}");
    let (_, known) = public_post(
        &server,
        &format!("{link}/recover"),
        json!({"email": "MIA.TRAN@acme.test"}),
    )
    .await;
    assert_eq!(
        unknown["message"].as_str().unwrap().replace("nobody@acme.test", "X"),
        known["message"].as_str().unwrap().replace("MIA.TRAN@acme.test", "X"),
        "the same words whether or not there are visits"
    );
    let mut limited = None;
    for _ in 0..5 {
        let (status, body) = public_post(
            &server,
            &format!("{link}/recover"),
            json!({"email": "Mia.Tran@acme.test "}),
        )
        .await;
        if status == 429 {
            limited = Some(body);
            break;
        }
    }
    let limited = limited.expect("recovery is limited per recipient");
    assert!(
        limited["error"]["message"]
            .as_str()
            .unwrap()
            .contains("check its inbox"),
        "{limited}"
    );
    phone.close().await;
}
