// SPDX-License-Identifier: Apache-2.0
// @ts-check
// Draws a result image (result-zone.mjs, newestResult) to a canvas. WebGL2
// uploads straight from the view over the engine's shared memory (texImage2D
// takes shared views), so no copy is made in JS between the result zone and
// the GPU texture; where WebGL2 is missing, a 2D canvas needs one copy (an
// ImageData cannot be backed by shared memory). Page's main thread only.

const VERTEX = `#version 300 es
in vec2 corner;
out vec2 uv;
void main() {
  uv = vec2(corner.x * 0.5 + 0.5, 0.5 - corner.y * 0.5);  // row 0 of the image at the top
  gl_Position = vec4(corner, 0.0, 1.0);
}`;
const FRAGMENT = `#version 300 es
precision mediump float;
uniform sampler2D image;
in vec2 uv;
out vec4 colour;
void main() { colour = texture(image, uv); }`;

function compile(gl, type, source) {
  const shader = gl.createShader(type);
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) throw new Error(`shader: ${gl.getShaderInfoLog(shader)}`);
  return shader;
}

// Sizes `canvas` to the image (resizing clears it, so only on a change).
function fit(canvas, result) {
  if (canvas.width === result.width && canvas.height === result.height) return;
  canvas.width = result.width;
  canvas.height = result.height;
}

// A drawer bound to `canvas`: draw(result) shows it; `path` says how
// ('webgl2': no JS copy; '2d-copy': one copy into an ImageData).
export function resultCanvas(canvas) {
  const gl = canvas.getContext('webgl2', { preserveDrawingBuffer: true, premultipliedAlpha: false });
  if (gl === null) {
    const g = canvas.getContext('2d');
    return {
      path: '2d-copy',
      draw(result) {
        fit(canvas, result);
        const image = g.createImageData(result.width, result.height);
        for (let y = 0; y < result.height; y++) {
          image.data.set(result.pixels.subarray(y * result.rowBytes, y * result.rowBytes + result.width * 4), y * result.width * 4);
        }
        g.putImageData(image, 0, 0);
      },
    };
  }
  const program = gl.createProgram();
  gl.attachShader(program, compile(gl, gl.VERTEX_SHADER, VERTEX));
  gl.attachShader(program, compile(gl, gl.FRAGMENT_SHADER, FRAGMENT));
  gl.linkProgram(program);
  if (!gl.getProgramParameter(program, gl.LINK_STATUS)) throw new Error(`program: ${gl.getProgramInfoLog(program)}`);
  gl.useProgram(program);
  gl.bindBuffer(gl.ARRAY_BUFFER, gl.createBuffer());
  gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
  const corner = gl.getAttribLocation(program, 'corner');
  gl.enableVertexAttribArray(corner);
  gl.vertexAttribPointer(corner, 2, gl.FLOAT, false, 0, 0);
  gl.bindTexture(gl.TEXTURE_2D, gl.createTexture());
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
  return {
    path: 'webgl2',
    draw(result) {
      fit(canvas, result);
      gl.viewport(0, 0, result.width, result.height);
      gl.pixelStorei(gl.UNPACK_ROW_LENGTH, result.rowBytes / 4);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, result.width, result.height, 0, gl.RGBA, gl.UNSIGNED_BYTE, result.pixels);
      gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    },
  };
}
