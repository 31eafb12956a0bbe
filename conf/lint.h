// Warnings for the WebSocket proxying mistakes people make with nginx configs (see the
// seed article): each names the file:line and gives a one-line fix. `ferry -t` still
// succeeds.
#pragma once

namespace ferry::conf {

class Builder;
struct HttpBuild;

// Runs over merged (but not yet assembled) servers and locations.
void lint_websocket(Builder& b, const HttpBuild& http);

}  // namespace ferry::conf
