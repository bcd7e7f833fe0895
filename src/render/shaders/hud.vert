#version 450
// The HUD's vertices (Dear ImGui's ImDrawVert): pixels -> clip space with a
// push-constant scale and offset; colour as 4 normalised bytes.
layout(location = 0) in vec2 position;
layout(location = 1) in vec2 uv;
layout(location = 2) in vec4 color;
layout(push_constant) uniform Transform {
  vec2 scale;
  vec2 offset;
} transform;
layout(location = 0) out vec2 frag_uv;
layout(location = 1) out vec4 frag_color;
void main() {
  frag_uv = uv;
  frag_color = color;
  gl_Position = vec4(position * transform.scale + transform.offset, 0.0, 1.0);
}
