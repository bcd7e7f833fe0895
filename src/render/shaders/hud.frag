#version 450
// The HUD's pixels: vertex colour times the font atlas's coverage (R8).
layout(set = 0, binding = 0) uniform sampler2D font;
layout(location = 0) in vec2 frag_uv;
layout(location = 1) in vec4 frag_color;
layout(location = 0) out vec4 out_color;
void main() {
  out_color = frag_color * vec4(1.0, 1.0, 1.0, texture(font, frag_uv).r);
}
