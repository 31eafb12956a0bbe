// Inheritance of settings between levels and their translation into the model.
#pragma once

#include "conf/model.h"
#include "conf/settings.h"

namespace ferry::conf {

// Fills every setting `child` leaves unset from `parent` (already merged itself).
void merge_loc(LocSettings& child, const LocSettings& parent);
void merge_srv(SrvSettings& child, const SrvSettings& parent);

// Writes merged settings into the model; unset settings keep the model's defaults.
void apply_loc(const LocSettings& s, LocationConf& l);
void apply_srv(const SrvSettings& s, ServerConf& srv);
SslConf make_ssl(const SrvSettings& s);

}  // namespace ferry::conf
