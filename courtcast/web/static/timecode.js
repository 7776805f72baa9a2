/* CourtCast test pattern with a machine-readable clock, for measuring glass-to-glass delay.
 *
 * The publisher draws the wall-clock time (ms, modulo 2^20) as 20 black/white blocks plus a
 * 4-bit checksum; the monitor reads the blocks back from the received video through a canvas.
 * Big flat blocks survive low-bitrate compression; the checksum rejects frames read badly.
 */
(function () {
  "use strict";

  var WIDTH = 320;
  var HEIGHT = 240;
  var BITS = 24; // 20 bits of time + 4 bits of checksum
  var COLS = 12;
  var BLOCK_W = 22;
  var BLOCK_H = 30;
  var STEP = 24;
  var ORIGIN_X = 16;
  var ORIGIN_Y = 14;
  var ROW_STEP = 40;
  var MODULUS = 1 << 20;

  function checksum(value) {
    var sum = 0;
    for (var i = 0; i < 20; i += 4) {
      sum += (value >> i) & 15;
    }
    return sum & 15;
  }

  function blockAt(bit) {
    return {
      x: ORIGIN_X + (bit % COLS) * STEP,
      y: ORIGIN_Y + Math.floor(bit / COLS) * ROW_STEP,
    };
  }

  function draw(ctx, now) {
    var value = now % MODULUS;
    var word = value | (checksum(value) << 20);
    ctx.fillStyle = "#404040";
    ctx.fillRect(0, 0, WIDTH, HEIGHT);
    for (var bit = 0; bit < BITS; bit++) {
      var at = blockAt(bit);
      ctx.fillStyle = (word >> bit) & 1 ? "#ffffff" : "#000000";
      ctx.fillRect(at.x, at.y, BLOCK_W, BLOCK_H);
    }
    // Something for people: the time, and a bar that sweeps once a second.
    ctx.fillStyle = "#ffffff";
    ctx.font = "28px monospace";
    ctx.fillText(new Date(now).toISOString().slice(11, 23), 40, 150);
    ctx.fillStyle = "#ffbf47";
    ctx.fillRect(((now % 1000) / 1000) * (WIDTH - 20), 190, 20, 30);
  }

  function read(ctx) {
    var pixels = ctx.getImageData(0, 0, WIDTH, HEIGHT).data;
    var word = 0;
    for (var bit = 0; bit < BITS; bit++) {
      var at = blockAt(bit);
      var sum = 0;
      for (var dy = 12; dy < 18; dy++) {
        for (var dx = 8; dx < 14; dx++) {
          var i = ((at.y + dy) * WIDTH + at.x + dx) * 4;
          sum += pixels[i] + pixels[i + 1] + pixels[i + 2];
        }
      }
      if (sum / 108 > 128) {
        word |= 1 << bit;
      }
    }
    var value = word & (MODULUS - 1);
    return (word >>> 20) === checksum(value) ? value : null;
  }

  // Milliseconds from the moment encoded in `value` to `now`.
  function delay(value, now) {
    return (((now % MODULUS) - value) % MODULUS + MODULUS) % MODULUS;
  }

  window.CourtcastTimecode = { WIDTH: WIDTH, HEIGHT: HEIGHT, draw: draw, read: read, delay: delay };
})();
