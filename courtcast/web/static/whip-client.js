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

  // Abandon a page's connection ({pc, session}): close it, and end its session on the server
  // (which frees a publisher slot at once) if the server can be reached.
  function drop(state) {
    var session = state.session;
    state.session = null;
    if (state.pc) {
      state.pc.close();
      state.pc = null;
    }
    if (session) {
      end(session);
    }
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

  // -- keeping a session up -------------------------------------------------------------------
  //
  // A courtroom laptop loses its network, or the server restarts: a broadcast (or a monitor)
  // must resume by itself, as an RTMP encoder reconnects. `connect()` makes a new peer
  // connection and session and resolves to the peer connection. It is called again when the
  // connection fails, stays "disconnected" for a while, or the server closes DTLS (which ICE
  // would take many seconds more to notice), with backoff. Refusals that retrying cannot fix
  // (a rotated key, an ended hearing, lost rights) stop it. `state` is the page's {pc, session}:
  // a lost connection is dropped from it. Hooks: show(state name), failed(err), giveUp(err).

  var DISCONNECTED_GRACE_MS = 5000;
  var RETRY_MIN_MS = 1000;
  var RETRY_MAX_MS = 30000;
  var FINAL_REFUSALS = [401, 403, 404];

  function Keeper(state, connect, hooks) {
    this.state = state;
    this.connect = connect;
    this.hooks = hooks;
    this.wanted = false;
    this.pc = null;
    this.delay = RETRY_MIN_MS;
    this.retry = null;
    this.grace = null;
    this.reconnects = 0;
  }

  Keeper.prototype.start = async function () {
    this.wanted = true;
    this.watch(await this.connect());
  };

  // No more reconnecting; returns the session, taken from the page's state, for the caller
  // to end once it has released its connection.
  Keeper.prototype.stop = function () {
    this.wanted = false;
    this.pc = null;
    clearTimeout(this.retry);
    clearTimeout(this.grace);
    this.retry = null;
    var session = this.state.session;
    this.state.session = null;
    return session;
  };

  Keeper.prototype.watch = function (pc) {
    var self = this;
    this.pc = pc;
    pc.addEventListener("connectionstatechange", function () { self.changed(pc); });
    var dtls = pc.getSenders().concat(pc.getReceivers())
      .map(function (end) { return end.transport; }).filter(Boolean)[0];
    if (dtls) {
      dtls.addEventListener("statechange", function () {
        if (pc === self.pc && (dtls.state === "closed" || dtls.state === "failed")) {
          self.lost();
        }
      });
    }
  };

  Keeper.prototype.changed = function (pc) {
    var self = this;
    if (pc !== this.pc) {
      return; // an abandoned connection
    }
    this.hooks.show(pc.connectionState);
    clearTimeout(this.grace);
    if (pc.connectionState === "connected") {
      this.delay = RETRY_MIN_MS;
    } else if (pc.connectionState === "failed") {
      this.lost();
    } else if (pc.connectionState === "disconnected") {
      this.grace = setTimeout(function () { self.lost(); }, DISCONNECTED_GRACE_MS);
    }
  };

  Keeper.prototype.lost = function () {
    var self = this;
    if (!this.wanted || this.retry) {
      return;
    }
    this.pc = null;
    drop(this.state);
    this.hooks.show("reconnecting");
    this.retry = setTimeout(function () {
      self.retry = null;
      if (!self.wanted) {
        return;
      }
      self.reconnects += 1;
      self.connect().then(function (pc) {
        if (self.wanted) {
          self.watch(pc);
        }
      }, function (err) {
        self.hooks.failed(err);
        if (FINAL_REFUSALS.indexOf(err && err.status) >= 0) {
          self.wanted = false;
          self.hooks.giveUp(err);
          return;
        }
        self.delay = Math.min(self.delay * 2, RETRY_MAX_MS);
        self.lost();
      });
    }, this.delay);
  };

  // Leaving the page ends its session at once instead of after the server's idle timeout.
  function endOnLeave(state) {
    window.addEventListener("pagehide", function () {
      if (state.session) {
        end(state.session, true);
      }
    });
  }

  window.CourtcastWhip = { exchange: exchange, end: end, Keeper: Keeper, endOnLeave: endOnLeave };
})();
