//! The rep's pages in a real Chromium: a rep opens a booking link, books by keyboard, opens the manage
//! link, swaps, downloads the calendar file and cancels; an approval-required booking waits for staff and
//! then reaches halo-sim's Bp; the pages on a phone. axe-core checks every page state the rep sees, and each
//! is saved as a screenshot under target/browser-screenshots/.

use std::time::Duration;

use crate::support::booking::*;
use crate::support::browser::Browser;
use crate::support::pms::{self, adds_of, assert_bp_matches, ready_clinic, sim_log, wait_drained};
use crate::support::{Server, local_date_in};
use serde_json::{Value, json};

const ENTER: &str = "\u{e007}";

/// What a screen reader announces for each slot button (its text, visible and visually hidden), in page order.
const SLOT_NAMES: &str =
    "[...document.querySelectorAll('button.slot')].map(b => b.textContent.replace(/\\s+/g, ' ').trim())";

async fn slot_labels(browser: &Browser) -> Vec<String> {
    browser
        .until("slot buttons", "document.querySelectorAll('button.slot').length")
        .await;
    serde_json::from_value(browser.js(&format!("return {SLOT_NAMES};")).await).unwrap()
}

/// Clicks the slot button whose accessible name contains `text`.
async fn pick_slot(browser: &Browser, text: &str) {
    let clicked = browser
        .js(&format!(
            "const b = [...document.querySelectorAll('button.slot')].find(b => b.textContent.includes({text:?}));
             if (b) {{ b.focus(); b.click(); }} return !!b;"
        ))
        .await;
    assert_eq!(clicked, json!(true), "no slot button names {text}");
}

/// "Tuesday 1 December 2026", as the pages write a clinic-local date.
fn long_date(day: &str) -> String {
    let date: jiff::civil::Date = day.parse().unwrap();
    date.strftime("%A %-d %B %Y").to_string()
}

#[tokio::test]
async fn browser_rep_books_by_keyboard_swaps_downloads_the_ics_and_cancels() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(dir.path(), &ROOMY_LIMITS).await;
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    set_rules(
        &server,
        &c.id,
        json!({"visiting_instructions": "Please sign in at reception and wait in the staff room."}),
    )
    .await;
    let specialist = category(&server, &c.id, "Specialist Services").await;
    let general = category(&server, &c.id, "General Pharma").await;
    let day = local_date_in("Australia/Sydney", 4);
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "12:00", "end": "13:00", "slot_minutes": 20,
        "practitioner_id": c.ana, "categories": [specialist]}),
    )
    .await;
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "15:00", "end": "16:00", "slot_minutes": 20,
        "practitioner_id": c.ben, "categories": [general]}),
    )
    .await;
    let link = link(&server, &c.id, "Specialist reps", &[&specialist]).await;

    let browser = Browser::start(1280, 1100).await;
    browser.goto(&format!("{}{link}", server.base)).await;
    let labels = slot_labels(&browser).await;
    let date = long_date(&day);
    assert!(
        labels.iter().all(|l| l.contains("Dr Ana Ng")),
        "only the link's category: {labels:?}"
    );
    let that_day: Vec<&String> = labels.iter().filter(|l| l.contains(&date)).collect();
    assert_eq!(that_day.len(), 3, "{labels:?}");
    let zone = if labels[0].contains("AEDT") { "AEDT" } else { "AEST" };
    assert_eq!(
        *that_day[0],
        format!("Book {date} at 12:00 pm {zone} with Dr Ana Ng, 20 minutes")
    );
    assert!(browser.text("zone-note").await.contains("(Australia/Sydney)"));
    assert!(browser.text("instructions").await.contains("sign in at reception"));
    browser.assert_accessible("the booking page").await;
    browser.screenshot("book-1-slots").await;

    // Keyboard: focus the 12:20 slot, Enter; focus moves to the form's heading.
    pick_slot(&browser, &format!("{date} at 12:20 pm")).await;
    browser
        .until("the details form", "!document.getElementById('details').hidden")
        .await;
    assert_eq!(browser.focused().await, "details-heading");
    assert!(browser.text("chosen").await.contains(&format!("{date} at 12:20 pm")));

    // Submitting empty: each required field says what is missing; focus goes to the first.
    browser.click("#book-button").await;
    browser
        .until("field errors", "!document.getElementById('rep-name-error').hidden")
        .await;
    assert_eq!(browser.focused().await, "rep-name");
    assert_eq!(
        browser
            .js("return document.getElementById('rep-name').getAttribute('aria-invalid');")
            .await,
        "true"
    );
    assert_eq!(
        browser.text("rep-email-error").await,
        "Enter your email address, like name@example.com."
    );
    browser.assert_accessible("the form with errors").await;
    browser.screenshot("book-2-form-errors").await;

    browser.keys("Jo Citizen\u{e004}Acme Pharma\u{e004}jo@acme.test").await;
    browser.keys(ENTER).await;
    browser
        .until("the confirmation", "!document.getElementById('done').hidden")
        .await;
    assert_eq!(browser.focused().await, "done-heading");
    assert_eq!(browser.text("done-heading").await, "Booked");
    assert!(
        browser
            .text("done-summary")
            .await
            .contains(&format!("{date} at 12:20 pm {zone} with Dr Ana Ng"))
    );
    let manage = browser
        .js("return document.getElementById('manage-link').href;")
        .await
        .as_str()
        .unwrap()
        .to_string();
    assert!(manage.starts_with(&format!("{}/manage/", server.base)), "{manage}");
    browser.assert_accessible("the confirmation").await;
    browser.screenshot("book-3-booked").await;
    let (_, stored) = server
        .get(&format!("/api/v1/clinics/{}/appointments?from={day}&to={day}", c.id))
        .await;
    assert_eq!(stored["appointments"][0]["rep"]["email"], "jo@acme.test", "{stored}");

    // The manage page.
    browser.goto(&manage).await;
    browser
        .until("the visit", "document.getElementById('state').innerText")
        .await;
    assert_eq!(browser.text("state").await, "Booked");
    assert!(
        browser
            .text("when")
            .await
            .contains(&format!("{date} at 12:20 pm {zone}"))
    );
    browser.assert_accessible("the manage page").await;
    browser.screenshot("manage-1-booked").await;

    // The calendar file downloads.
    browser.click("#ics-link").await;
    let ics = browser.downloaded("rep-visit.ics").await;
    assert!(ics.starts_with("BEGIN:VCALENDAR"), "{ics}");
    let reference = stored["appointments"][0]["reference"].as_str().unwrap();
    assert!(ics.contains(&format!("UID:{reference}@repbook")), "{ics}");

    // Swap: choose 12:40; the old slot is released, the summary follows, focus returns to it.
    browser.click("#swap-start").await;
    browser
        .until(
            "swap slots",
            "!document.getElementById('swap').hidden && document.querySelectorAll('button.slot').length",
        )
        .await;
    assert_eq!(browser.focused().await, "swap-heading");
    let offered = slot_labels(&browser).await;
    assert!(
        offered.iter().all(|l| !l.contains(&format!("{date} at 12:20 pm"))),
        "the current time is not offered as a move: {offered:?}"
    );
    browser.assert_accessible("the swap list").await;
    browser.screenshot("manage-2-swap").await;
    pick_slot(&browser, &format!("{date} at 12:40 pm")).await;
    browser
        .until(
            "the moved visit",
            "document.getElementById('when').innerText.includes('12:40 pm')",
        )
        .await;
    assert_eq!(browser.focused().await, "summary-heading");
    assert!(browser.text("status").await.starts_with("Your visit is now"));
    let (_, moved) = server
        .get(&format!("/api/v1/clinics/{}/appointments?from={day}&to={day}", c.id))
        .await;
    assert!(
        moved["appointments"][0]["local_start"]
            .as_str()
            .unwrap()
            .ends_with("T12:40"),
        "{moved}"
    );

    // Cancel, with a confirmation step.
    browser.click("#cancel-start").await;
    assert_eq!(browser.focused().await, "confirm-cancel-heading");
    browser.assert_accessible("the cancel confirmation").await;
    browser.screenshot("manage-3-confirm-cancel").await;
    browser.click("#cancel-confirm").await;
    browser
        .until(
            "the cancelled state",
            "document.getElementById('state').innerText === 'Cancelled'",
        )
        .await;
    assert!(!browser.visible("cancel-start").await && !browser.visible("swap-start").await);
    browser.screenshot("manage-4-cancelled").await;
    let (_, after) = server
        .get(&format!("/api/v1/clinics/{}/appointments?from={day}&to={day}", c.id))
        .await;
    assert_eq!(after["appointments"][0]["status"], "cancelled");
    browser.close().await;
}

#[tokio::test]
async fn browser_shows_the_api_error_as_it_is_and_offers_the_next_slot() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(dir.path(), &ROOMY_LIMITS).await;
    let c = clinic(&server, "Australia/Perth", "WA").await;
    let day = local_date_in("Australia/Perth", 5);
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "09:00", "end": "10:00", "slot_minutes": 30,
        "practitioner_id": c.ben}),
    )
    .await;
    let link = link(&server, &c.id, "All reps", &[]).await;

    let browser = Browser::start(1280, 900).await;
    browser.goto(&format!("{}{link}", server.base)).await;
    slot_labels(&browser).await;
    let date = long_date(&day);
    pick_slot(&browser, &format!("{date} at 9:00 am")).await;
    // Someone else takes 9:00 while this rep types.
    let (status, _) = book(
        &server,
        &link,
        &format!("{day}T09:00"),
        Some(&c.ben),
        rep("Fast", "Other", "fast@other.test"),
    )
    .await;
    assert_eq!(status, 201);
    browser.click("#rep-name").await;
    browser.keys("Slow Rep\u{e004}Acme\u{e004}slow@acme.test\u{e007}").await;
    browser
        .until("the error", "!document.getElementById('error').hidden")
        .await;
    let (status, again) = book(
        &server,
        &link,
        &format!("{day}T09:00"),
        Some(&c.ben),
        rep("Slow Rep", "Acme", "slow2@acme.test"),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(
        browser.text("error").await,
        again["error"]["message"].as_str().unwrap(),
        "the API's message, as it is"
    );
    assert_eq!(
        browser
            .js("return document.getElementById('error').getAttribute('role');")
            .await,
        "alert"
    );
    // Back to the refreshed list: 9:30 is there to choose, 9:00 is not; the message keeps the focus.
    browser
        .until("the list", "!document.getElementById('choose').hidden")
        .await;
    assert_eq!(browser.focused().await, "error");
    let labels = slot_labels(&browser).await;
    let that_day: Vec<&String> = labels.iter().filter(|l| l.contains(&date)).collect();
    assert_eq!(that_day.len(), 1, "{labels:?}");
    assert!(that_day[0].contains("9:30 am"), "{labels:?}");
    browser.assert_accessible("the booking page with an error").await;
    browser.screenshot("book-4-slot-taken").await;
    browser.close().await;
}

#[tokio::test]
async fn browser_approval_required_booking_shows_requested_until_staff_approve_then_reaches_bp() {
    let pms::Setup { sim, server, dir: _dir } = pms::start(pms::seed(1), &ROOMY_LIMITS).await;
    let setup = ready_clinic(&server, &sim.url(), "20001", "Australia/Brisbane", "QLD").await;
    let ana = &setup.doctors[0].0;
    let day = local_date_in("Australia/Brisbane", 6);
    publish(
        &server,
        &setup.id,
        json!({"weekday": weekday(&day), "start": "13:00", "end": "14:00", "slot_minutes": 30,
        "practitioner_id": ana, "approval_required": true}),
    )
    .await;
    let link = link(&server, &setup.id, "All reps", &[]).await;

    let browser = Browser::start(1280, 1000).await;
    browser.goto(&format!("{}{link}", server.base)).await;
    let labels = slot_labels(&browser).await;
    assert!(labels[0].ends_with("needs the clinic's approval"), "{labels:?}");
    pick_slot(&browser, &format!("{} at 1:30 pm", long_date(&day))).await;
    assert_eq!(browser.text("book-button").await, "Request this time");
    browser.click("#rep-name").await;
    browser.keys("Ria Rep\u{e004}Acme\u{e004}ria@acme.test\u{e007}").await;
    browser
        .until("the confirmation", "!document.getElementById('done').hidden")
        .await;
    assert_eq!(
        browser.text("done-heading").await,
        "Requested: waiting for the clinic's approval"
    );
    browser.screenshot("approval-1-requested").await;
    let manage = browser.js("return document.getElementById('manage-link').href;").await;
    browser.goto(manage.as_str().unwrap()).await;
    browser
        .until("the visit", "document.getElementById('state').innerText")
        .await;
    assert_eq!(
        browser.text("state").await,
        "Requested: waiting for the clinic's approval"
    );
    browser.assert_accessible("the manage page of a request").await;
    browser.screenshot("approval-2-manage-requested").await;

    wait_drained(&server, &setup.id, Duration::from_secs(10)).await;
    let (_, queue) = server
        .get(&format!("/api/v1/clinics/{}/appointments?status=requested", setup.id))
        .await;
    let request: &Value = &queue["appointments"][0];
    let reference = request["reference"].as_str().unwrap().to_string();
    assert_eq!(
        adds_of(&sim_log(&sim.url(), "20001").await, &reference),
        0,
        "not in Bp before approval"
    );

    let (status, body) = server
        .post(
            &format!("/api/v1/appointments/{}/approve", request["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    browser.client.refresh().await.unwrap();
    browser
        .until(
            "the approved visit",
            "document.getElementById('state').innerText === 'Booked'",
        )
        .await;
    browser.screenshot("approval-3-manage-approved").await;

    wait_drained(&server, &setup.id, Duration::from_secs(20)).await;
    assert_eq!(
        adds_of(&sim_log(&sim.url(), "20001").await, &reference),
        1,
        "in Bp once after approval"
    );
    assert_bp_matches(&server, &sim.url(), &setup).await;
    browser.close().await;
}

#[tokio::test]
async fn browser_pages_fit_a_phone_and_a_dead_link_says_so_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(dir.path(), &ROOMY_LIMITS).await;
    let c = clinic(&server, "Australia/Adelaide", "SA").await;
    set_rules(
        &server,
        &c.id,
        json!({"visiting_instructions": "Park behind the clinic; ring the bell at the side door."}),
    )
    .await;
    let day = local_date_in("Australia/Adelaide", 3);
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "12:30", "end": "13:30", "slot_minutes": 15}),
    )
    .await;
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "08:00", "end": "08:30", "slot_minutes": 15,
        "practitioner_id": c.ana}),
    )
    .await;
    let link = link(&server, &c.id, "All reps", &[]).await;
    let (_, booked) = book(
        &server,
        &link,
        &format!("{day}T12:30"),
        None,
        rep("Pia", "Acme", "pia@acme.test"),
    )
    .await;

    let phone = Browser::start(390, 844).await;
    let no_sideways_scroll = "document.documentElement.scrollWidth <= document.documentElement.clientWidth";
    phone.goto(&format!("{}{link}", server.base)).await;
    let labels = slot_labels(&phone).await;
    assert!(labels.iter().any(|l| l.contains("with the clinic")), "{labels:?}");
    assert_eq!(
        phone.js(&format!("return {no_sideways_scroll};")).await,
        true,
        "the booking page scrolls sideways on a phone"
    );
    let smallest = phone
        .js("return Math.min(...[...document.querySelectorAll('button')].filter(b => b.getClientRects().length).map(b => b.getBoundingClientRect().height));")
        .await;
    assert!(
        smallest.as_f64().unwrap() >= 24.0,
        "WCAG 2.2 target size: buttons at least 24 px high, smallest {smallest}"
    );
    phone.assert_accessible("the booking page on a phone").await;
    phone.screenshot("phone-1-book").await;
    pick_slot(&phone, &format!("{} at 12:45 pm", long_date(&day))).await;
    phone
        .until("the form", "!document.getElementById('details').hidden")
        .await;
    phone.screenshot("phone-2-form").await;

    phone
        .goto(&format!("{}{}", server.base, booked["manage_url"].as_str().unwrap()))
        .await;
    phone
        .until("the visit", "document.getElementById('state').innerText")
        .await;
    assert_eq!(phone.text("with").await, "the clinic");
    assert_eq!(
        phone.js(&format!("return {no_sideways_scroll};")).await,
        true,
        "the manage page scrolls sideways on a phone"
    );
    phone.assert_accessible("the manage page on a phone").await;
    phone.screenshot("phone-3-manage").await;

    phone.goto(&format!("{}/book/not-a-real-link", server.base)).await;
    phone.until("the page", "document.querySelector('h1')").await;
    let heading = phone.js("return document.querySelector('h1').innerText;").await;
    assert!(heading.as_str().unwrap().to_lowercase().contains("not"), "{heading}");
    phone.assert_accessible("the not-found page").await;
    phone.screenshot("phone-4-not-found").await;
    phone.close().await;
}
