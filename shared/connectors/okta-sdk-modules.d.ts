/**
 * Types for the @okta/okta-sdk-nodejs v8 files shared/connectors/okta-sdk.ts imports one by one.
 * The SDK ships its declarations apart from its code (src/types/ beside src/), so a deep import of
 * a code file finds no types by itself; each is given the SDK's own declaration of that file.
 */
declare module '@okta/okta-sdk-nodejs/src/collection.js' {
  export { Collection } from '@okta/okta-sdk-nodejs/src/types/collection.js';
}

declare module '@okta/okta-sdk-nodejs/src/default-request-executor.js' {
  export { DefaultRequestExecutor } from '@okta/okta-sdk-nodejs/src/types/default-request-executor.js';
}

declare module '@okta/okta-sdk-nodejs/src/http.js' {
  export { Http } from '@okta/okta-sdk-nodejs/src/types/http.js';
}

declare module '@okta/okta-sdk-nodejs/src/generated/configuration.js' {
  export { createConfiguration } from '@okta/okta-sdk-nodejs/src/types/generated/configuration.js';
}

declare module '@okta/okta-sdk-nodejs/src/generated/servers.js' {
  export { ServerConfiguration } from '@okta/okta-sdk-nodejs/src/types/generated/servers.js';
}

declare module '@okta/okta-sdk-nodejs/src/generated/apis/GroupApi.js' {
  export { GroupApiRequestFactory, GroupApiResponseProcessor } from '@okta/okta-sdk-nodejs/src/types/generated/apis/GroupApi.js';
}

declare module '@okta/okta-sdk-nodejs/src/generated/apis/UserApi.js' {
  export { UserApiRequestFactory, UserApiResponseProcessor } from '@okta/okta-sdk-nodejs/src/types/generated/apis/UserApi.js';
}
