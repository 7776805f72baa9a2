/* The client half of WHIP/WHEP (RFC 9725) for the publish and monitor pages.
 *
 * Offers are complete (the server takes no trickle ICE): gather first, then POST the offer
 * with the bearer token (or, without one, the page's own session cookie); the answer comes
 * back with the session URL (Location) for DELETE.
 */
(function () {
  "use strict";

  var ICE_WAIT_MS = 2000; // without STUN, host candidates are all there is and come at once

  function gatheringDone(pc) {
    return new Promise(function (resolve) {
      if (pc.iceGatheringState === "complete") {
        resolve();
        return;
      }
      var timer = setTimeout(resolve, ICE_WAIT_MS);
      pc.addEventListener("icegatheringstatechange", function () {
        if (pc.iceGatheringState === "complete") {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  async function refusal(response) {
    try {
      var body = await response.json();
      return body.error ? body.error.message : response.statusText;
    } catch (err) {
      return response.status + " " + response.statusText;
    }
  }

  function end(session, keepalive) {
    return fetch(session, { method: "DELETE", keepalive: !!keepalive }).catch(function () {});
  }

  // Offer `pc` to the endpoint `url`; resolves to the session URL once the answer is applied.
  async function exchange(pc, url, token, refusedText) {
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringDone(pc);
    var headers = { "Content-Type": "application/sdp" };
    if (token) {
      headers.Authorization = "Bearer " + token;
    }
    var response = await fetch(url, {
      method: "POST", headers: headers, credentials: "same-origin", body: pc.localDescription.sdp,
    });
    if (response.status !== 201) {
      var error = new Error(refusedText + " " + (await refusal(response)));
      error.status = response.status;
      throw error;
    }
    var session = new URL(response.headers.get("Location"), location.href).href;
    try {
      await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
    } catch (err) {
      end(session); // the server holds a session (and a publisher slot) for it
      throw err;
    }
    return session;
  }

  window.CourtcastWhip = { exchange: exchange, end: end };
})();
