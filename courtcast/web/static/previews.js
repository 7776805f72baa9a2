/* Seek-bar previews for replays: a scrubber under the video that shows the thumbnail of the
 * moment under the pointer, from the hearing's WebVTT thumbnails track (sprite sheets with
 * #xywh= fragments). Present only when the page says previews exist (no probing requests).
 */
(function () {
  "use strict";

  var root = document.getElementById("player");
  var scrubber = document.getElementById("scrubber");
  if (!root || !scrubber || !root.dataset.previewsUrl) {
    return;
  }
  var video = document.getElementById("video");
  var range = document.getElementById("seek");
  var preview = document.getElementById("seek-preview");
  var cues = [];

  function seconds(text) {
    var parts = text.trim().split(":").map(Number);
    return parts.reduce(function (total, part) { return total * 60 + part; }, 0);
  }

  function parse(text, base) {
    var found = [];
    text.split(/\r?\n\r?\n/).forEach(function (block) {
      var lines = block.trim().split(/\r?\n/);
      var timing = lines.findIndex(function (line) { return line.indexOf("-->") > 0; });
      if (timing < 0 || !lines[timing + 1]) {
        return;
      }
      var span = lines[timing].split("-->");
      var target = lines[timing + 1].trim().split("#xywh=");
      var box = (target[1] || "0,0,0,0").split(",").map(Number);
      found.push({ start: seconds(span[0]), end: seconds(span[1]),
                   url: new URL(target[0], base).href, x: box[0], y: box[1], w: box[2], h: box[3] });
    });
    return found;
  }

  function cueAt(t) {
    return cues.find(function (cue) { return t >= cue.start && t < cue.end; });
  }

  function show(t, fraction) {
    var cue = cueAt(t);
    if (!cue) {
      preview.hidden = true;
      return;
    }
    preview.style.width = cue.w + "px";
    preview.style.height = cue.h + "px";
    preview.style.backgroundImage = "url(\"" + cue.url + "\")";
    preview.style.backgroundPosition = (-cue.x) + "px " + (-cue.y) + "px";
    preview.style.left = "calc(" + (fraction * 100) + "% - " + (cue.w / 2) + "px)";
    preview.hidden = false;
  }

  function pointerTime(event) {
    var box = range.getBoundingClientRect();
    var fraction = Math.min(Math.max((event.clientX - box.left) / box.width, 0), 1);
    return { fraction: fraction, time: fraction * Number(range.max) };
  }

  var url = new URL(root.dataset.previewsUrl, window.location.href).href;
  fetch(url).then(function (response) { return response.ok ? response.text() : ""; })
    .then(function (text) {
      cues = parse(text, url);
      if (!cues.length) {
        return;
      }
      scrubber.hidden = false;
      range.max = String(Math.ceil(cues[cues.length - 1].end));
      window.courtcastPlayer.previews = cues;
    });

  range.addEventListener("pointermove", function (event) {
    var at = pointerTime(event);
    show(at.time, at.fraction);
  });
  range.addEventListener("pointerleave", function () { preview.hidden = true; });
  range.addEventListener("input", function () {
    show(Number(range.value), Number(range.value) / Number(range.max));
  });
  range.addEventListener("change", function () {
    video.currentTime = Number(range.value);
    preview.hidden = true;
  });
  video.addEventListener("timeupdate", function () {
    if (document.activeElement !== range) {
      range.value = String(Math.floor(video.currentTime));
    }
  });
})();
