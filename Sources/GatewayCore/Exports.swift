// Plugins build SCIM errors with HTTP statuses and headers; they get the types through GatewayCore.
@_exported public import HTTPTypes
@_exported public import SCIMCore
