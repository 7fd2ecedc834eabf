-- Argo CD health check for wetix.my/v1alpha1 WetixCredential.
-- Install it as resource.customizations.health.wetix.my_WetixCredential (docs/gitops.md).
--
--   Suspended    spec.suspend is true, or the Ready condition says so
--   Progressing  the operator has not yet seen this generation, or Ready is Unknown/absent
--   Healthy      Ready is True
--   Degraded     Ready is False (the reason names the cause, e.g. InvalidClient)
local hs = {}

local function ready_condition(status)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Ready" then
      return condition
    end
  end
  return nil
end

local function describe(condition)
  local text = condition.reason or ""
  if condition.message ~= nil and condition.message ~= "" then
    if text ~= "" then
      text = text .. ": "
    end
    text = text .. condition.message
  end
  return text
end

if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "spec.suspend is true: no calls to WeTix, the Secret is left as it is"
  return hs
end

local generation = obj.metadata.generation
local status = obj.status
if status == nil or status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report a status"
  return hs
end
if generation ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local ready = ready_condition(status)
if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end
if ready.observedGeneration ~= nil and generation ~= nil and ready.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

if ready.reason == "Suspended" then
  hs.status = "Suspended"
  hs.message = describe(ready)
elseif ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
elseif ready.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(ready)
else
  hs.status = "Progressing"
  hs.message = describe(ready)
end
return hs
