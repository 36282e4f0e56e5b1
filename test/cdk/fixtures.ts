/** Small catalogs for the CDK tests, so that their expectations do not move when the sample catalog does. */

/** Okta only, plus a manual role (which uses no identity provider). */
export const OKTA_CATALOG = `version: 1
defaults:
  provider: okta
  approvalTimeout: PT24H
approverGroups:
  security-oncall: [sam.sec@example.com]
apps:
  figma:
    name: Figma
    owner: dana.design@example.com
    roles:
      editor:
        group: 00gfigmaeditor
        risk: medium
        approval: [manager]
        durations: [PT24H, P30D, permanent]
        maxDuration: permanent
  console:
    name: Admin console
    owner: ivan.infra@example.com
    roles:
      break-glass:
        group: 00gconsolebreakglass
        risk: critical
        approval: [{ group: security-oncall }]
        durations: [PT1H, PT6H]
        maxDuration: PT6H
  erp:
    name: Legacy ERP
    owner: erin.erp@example.com
    roles:
      clerk:
        group: manual
        risk: medium
        approval: [app_owner]
        durations: [P30D]
        maxDuration: P30D
`;

/** The same with one app moved to Microsoft Entra ID. */
export const OKTA_AND_ENTRA_CATALOG = OKTA_CATALOG.replace('    name: Figma\n', '    name: Figma\n    provider: entra\n')
  .replace('        group: 00gfigmaeditor\n', '        group: 3f2a6c1e-8b4d-4e7a-9c1f-2d5e8a7b6c40\n')
  .replace(
    '  console:\n',
    '  okta-app:\n    name: Okta app\n    owner: olga.okta@example.com\n    roles:\n      member:\n        group: 00goktamember\n        risk: low\n        approval: [auto]\n        durations: [permanent]\n        maxDuration: permanent\n  console:\n',
  );
