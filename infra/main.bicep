// Quire on Azure Functions Flex Consumption: storage without shared keys, one user-assigned
// managed identity with only the roles the app and the host need, Application Insights with
// identity-based ingestion, and every application setting the app reads
// (tests/unit/test_infra.py keeps these settings and shared/settings.py in step).
targetScope = 'resourceGroup'

@minLength(1)
@maxLength(40)
@description('The azd environment name: names and tags every resource.')
param environmentName string

@description('Where the resources go.')
param location string = resourceGroup().location

@allowed([512, 2048, 4096])
@description('Memory of one Flex Consumption instance (MB). Three conversion steps of 512 MB fit 2,048.')
param instanceMemoryMB int = 2048

@minValue(1)
@maximum(1000)
@description('The most instances the app scales out to.')
param maximumInstanceCount int = 100

@description('Put the app in a virtual network and reach storage through private endpoints only.')
param vnetEnabled bool = false

@description('Largest manuscript accepted, in bytes.')
param maxUploadBytes int = 52428800

@description('Largest manuscript sent straight to Blob Storage with a valet-key SAS (a zip), in bytes.')
param directUploadMaxBytes int = 1073741824

var token = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var deploymentContainer = 'app-package-${take(token, 7)}'
var privateEndpointServices = vnetEnabled ? ['blob', 'queue', 'table'] : []

var blobContainers = [
  deploymentContainer
  'quire-manuscripts'
  'quire-work'
  'quire-books'
  'quire-feeds'
]
var queueNames = [
  'quire-conversions'
  'quire-conversions-poison'
  'quire-feeds'
]
var tableNames = [
  'quireJobs'
  'quireBooks'
  'quireFeedSources'
  'quireShelves'
]

// Built-in role definition ids.
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-quire-${token}'
  location: location
  tags: tags
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'stquire${token}'
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: vnetEnabled ? 'Deny' : 'Allow'
    }
  }
}

// The upload page sends large manuscripts from the browser straight to Blob Storage (a valet-key
// SAS for one blob), so the blob endpoint answers the page's own origin, and only for writes.
var appName = 'func-quire-${token}'

@description('Origins of the upload page allowed to write direct uploads to Blob Storage (CORS): the app\'s own address, and any custom domain it is served from.')
param uploadPageOrigins array = []

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    // Erasure deletes a book's blobs for good: no versions, soft-deleted copies or change feed
    // keep a manuscript after it (the app deletes a blob with its snapshots and breaks leases).
    isVersioningEnabled: false
    deleteRetentionPolicy: { enabled: false }
    containerDeleteRetentionPolicy: { enabled: false }
    changeFeed: { enabled: false }
    lastAccessTimeTrackingPolicy: { enable: false }
    cors: {
      corsRules: [
        {
          allowedOrigins: union(['https://${appName}.azurewebsites.net'], uploadPageOrigins)
          allowedMethods: ['PUT', 'OPTIONS']
          allowedHeaders: ['content-type', 'content-length', 'x-ms-*']
          exposedHeaders: ['x-ms-request-id', 'x-ms-error-code']
          maxAgeInSeconds: 3600
        }
      ]
    }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for name in blobContainers: {
    parent: blobService
    name: name
    properties: {
      publicAccess: 'None'
    }
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for name in queueNames: {
    parent: queueService
    name: name
  }
]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for name in tableNames: {
    parent: tableService
    name: name
  }
]

// The identity's roles on the storage account: blobs (the host's own containers, the deployment
// package and the app's), queues (triggers and outputs), tables (job and book rows, feed sources, shelves).
resource blobRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, storageBlobDataOwner)
  scope: storage
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
  }
}

resource queueRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, storageQueueDataContributor)
  scope: storage
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributor)
  }
}

resource tableRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, storageTableDataContributor)
  scope: storage
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributor)
  }
}

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-quire-${token}'
  location: location
  tags: tags
  properties: {
    retentionInDays: 30
    sku: {
      name: 'PerGB2018'
    }
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-quire-${token}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
    DisableLocalAuth: true
  }
}

resource telemetryRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(insights.id, identity.id, monitoringMetricsPublisher)
  scope: insights
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
  }
}

resource network 'Microsoft.Network/virtualNetworks@2024-01-01' = if (vnetEnabled) {
  name: 'vnet-quire-${token}'
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        '10.0.0.0/16'
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: '10.0.1.0/24'
          delegations: [
            {
              name: 'flex'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: '10.0.2.0/24'
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2024-01-01' = [
  for service in privateEndpointServices: {
    name: 'pe-${service}-${token}'
    location: location
    tags: tags
    properties: {
      subnet: {
        id: '${network.id}/subnets/private-endpoints'
      }
      privateLinkServiceConnections: [
        {
          name: service
          properties: {
            privateLinkServiceId: storage.id
            groupIds: [
              service
            ]
          }
        }
      ]
    }
  }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-quire-${token}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: union(tags, { 'azd-service-name': 'app' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    virtualNetworkSubnetId: vnetEnabled ? '${network.id}/subnets/app' : null
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainer}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.13'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: [
        // The storage connection, identity-based: no account key anywhere.
        {
          name: 'AzureWebJobsStorage__blobServiceUri'
          value: storage.properties.primaryEndpoints.blob
        }
        {
          name: 'AzureWebJobsStorage__queueServiceUri'
          value: storage.properties.primaryEndpoints.queue
        }
        {
          name: 'AzureWebJobsStorage__tableServiceUri'
          value: storage.properties.primaryEndpoints.table
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identity.properties.clientId
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: insights.properties.ConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identity.properties.clientId};Authorization=AAD'
        }
        // host.json's telemetryMode is OpenTelemetry; this lets the Python worker hand each
        // invocation the host's trace context, so the app's spans join the host's.
        {
          name: 'PYTHON_ENABLE_OPENTELEMETRY'
          value: 'true'
        }
        // The app's own settings (docs/settings.md).
        {
          name: 'MAX_UPLOAD_BYTES'
          value: string(maxUploadBytes)
        }
        {
          name: 'FUNCTIONS_REQUEST_BODY_SIZE_LIMIT'
          value: string(maxUploadBytes + 2097152)
        }
        {
          name: 'DIRECT_UPLOAD_MAX_BYTES'
          value: string(directUploadMaxBytes)
        }
        {
          name: 'DIRECT_UPLOAD_SAS_SECONDS'
          value: '1800'
        }
        {
          name: 'DIRECT_UPLOAD_BLOCK_BYTES'
          value: '8388608'
        }
        {
          name: 'DIRECT_UPLOAD_PAGE_THRESHOLD_BYTES'
          value: '16777216'
        }
        {
          name: 'REFRESH_SCHEDULE'
          value: '0 */15 * * * *'
        }
        {
          name: 'RECONCILE_SCHEDULE'
          value: '0 */2 * * * *'
        }
        {
          name: 'JOB_STALL_SECONDS'
          value: '300'
        }
        {
          name: 'ABANDONED_UPLOAD_SECONDS'
          value: '900'
        }
        {
          name: 'FEEDS_MAX_ITEMS'
          value: '50'
        }
        {
          name: 'FEEDS_INTERVAL_SECONDS'
          value: '840'
        }
        {
          name: 'FEEDS_FETCH_DEADLINE_SECONDS'
          value: '20'
        }
        {
          name: 'IMAGES_IN_PLAN_BYTES'
          value: '16777216'
        }
        {
          name: 'STEP_CPU_SECONDS'
          value: '20'
        }
        {
          name: 'STEP_MEMORY_MB'
          value: '512'
        }
        {
          name: 'EDITIONS_KEPT'
          value: '3'
        }
        {
          name: 'PDF_ARCHIVAL'
          value: 'false'
        }
        {
          name: 'EPUB_CHANGES_PAGE'
          value: 'true'
        }
        {
          name: 'PDF_STEP_MEMORY_MB'
          value: '1024'
        }
      ]
    }
  }
  dependsOn: [
    blobRole
    queueRole
    tableRole
    telemetryRole
  ]
}

output AZURE_FUNCTION_APP_NAME string = app.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.name
output SERVICE_APP_URI string = 'https://${app.properties.defaultHostName}'
